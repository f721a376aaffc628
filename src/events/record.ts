import { SCHEMA_VERSIONS, type EventPayloads, type EventType } from './vocabulary.js';

/** A stored event of type T, its payload typed (structurally the log's LogRecord). */
export interface RecordedEvent<T extends EventType = EventType> {
  readonly seq: number;
  /** Nanoseconds since the epoch. */
  readonly time: bigint;
  readonly namespace: string;
  readonly stream: string;
  readonly version: number;
  readonly type: T;
  readonly schema: number;
  readonly payload: EventPayloads[T];
  readonly meta: Readonly<Record<string, unknown>>;
}

/**
 * Any stored event of the vocabulary: switching on `type` narrows `payload`, so read models
 * fold events without casts.
 */
export type EventRecord = { [T in EventType]: RecordedEvent<T> }[EventType];

/** The record as an EventRecord when its type is one of the vocabulary's (upcast already). */
export function asEventRecord<R extends { readonly type: string }>(record: R): (R & EventRecord) | undefined {
  return Object.prototype.hasOwnProperty.call(SCHEMA_VERSIONS, record.type) ? (record as R & EventRecord) : undefined;
}
