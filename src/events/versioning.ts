import { SCHEMA_VERSIONS, type EventType } from './vocabulary.js';

type Step = (payload: unknown) => unknown;

/** The part of a log record that upcasting reads and rewrites. */
interface Versioned {
  readonly type: string;
  readonly schema: number;
  readonly payload: unknown;
  readonly meta: unknown;
}

/**
 * Upcasters by event type and the schema version they read: UPCASTERS.X[1] turns a schema-1
 * payload of X into schema 2. Records are never rewritten; old payloads are upgraded on read.
 */
const UPCASTERS: Partial<Record<EventType, Record<number, Step>>> = {};

export function upcast<R extends Versioned>(record: R): R {
  const current = SCHEMA_VERSIONS[record.type as EventType];
  if (current === undefined || record.schema >= current) return record;
  let payload = record.payload;
  for (let schema = record.schema; schema < current; schema++) {
    const step = UPCASTERS[record.type as EventType]?.[schema];
    if (!step) throw new Error(`no upcaster for ${record.type} schema ${schema}`);
    payload = step(payload);
  }
  // payload and meta may be getters of a stored record: copy them by name
  return { ...record, meta: record.meta, schema: current, payload };
}
