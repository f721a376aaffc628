/**
 * An event that a client or a shim handed to the daemon (Events.Publish / Forward). ledgerd
 * keeps it in the log like any other fact, so subscribers can resume across it.
 * Stream "events" of the envelope's namespace.
 */
export const PUBLISHED_STREAM = 'events';

export interface EnvelopePublished {
  readonly topic: string;
  /** The payload's Any type URL, kept exactly as received. */
  readonly typeUrl: string;
  readonly value: Uint8Array;
  /** The envelope's own timestamp in nanoseconds (Forward keeps the sender's). */
  readonly timestamp: bigint;
}

export interface PublishedEvents {
  EnvelopePublished: EnvelopePublished;
}
