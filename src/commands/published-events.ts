// Events.Publish and Events.Forward: an event a client or a shim hands the daemon, recorded as
// EnvelopePublished on the published stream of its namespace. Publishers only ever add to that
// stream and decide nothing against it, so the append asks for no expected version.
import { newEvent, PUBLISHED_STREAM } from '../events/index.js';
import type { EventLog, RecordMeta } from '../log/index.js';
import { invalidArgument } from '../util/errdefs.js';
import { appendEvents } from './context.js';

export interface PublishedEvent {
  readonly namespace: string;
  readonly topic: string;
  readonly event: { type_url?: string; value?: Uint8Array } | undefined;
  /** When it happened (ns since the epoch): now for Publish, the envelope's time for Forward. */
  readonly time: bigint;
}

export async function publishEvent(log: EventLog, { namespace, topic, event, time }: PublishedEvent, meta: RecordMeta): Promise<void> {
  if (!event?.type_url) throw invalidArgument('event: must be set, with a type_url');
  await appendEvents(log, [newEvent('EnvelopePublished', namespace, PUBLISHED_STREAM, { topic, typeUrl: event.type_url, value: event.value ?? new Uint8Array(), timestamp: time }, meta)]);
}
