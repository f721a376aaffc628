import { SCHEMA_VERSIONS, type EventPayloads, type EventType } from './vocabulary.js';

/** An event ready to append: structurally the log's NewEvent, with its payload typed. */
export interface TypedEvent<T extends EventType = EventType> {
  readonly type: T;
  readonly namespace: string;
  readonly stream: string;
  readonly schema: number;
  readonly payload: EventPayloads[T];
  readonly meta?: Readonly<Record<string, unknown>>;
}

/** Builds a log event with its type checked against the vocabulary and the current schema. */
export function newEvent<T extends EventType>(
  type: T,
  namespace: string,
  stream: string,
  payload: EventPayloads[T],
  meta?: Readonly<Record<string, unknown>>,
): TypedEvent<T> {
  return { type, namespace, stream, payload, schema: SCHEMA_VERSIONS[type], meta };
}
