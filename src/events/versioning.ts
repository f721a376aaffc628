import { SCHEMA_VERSIONS } from './vocabulary.js';

/** Turns a payload of one schema version into the next. */
export type UpcastStep = (payload: unknown) => unknown;

/** Upcasters by event type and the schema version each reads. */
export type UpcasterRegistry = Partial<Record<string, Record<number, UpcastStep>>>;

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
const UPCASTERS: UpcasterRegistry = {};

/**
 * The upcast of a registry: a record of an older schema comes back with its payload stepped up to
 * the current version, one step per version; a record of the current (or an unknown) type and
 * version comes back as it is. A missing step is an error, never a silently old payload.
 */
export function upcasterOf(registry: UpcasterRegistry, versions: Readonly<Record<string, number>>) {
  return <R extends Versioned>(record: R): R => {
    const current = versions[record.type];
    if (current === undefined || record.schema >= current) return record;
    let payload = record.payload;
    for (let schema = record.schema; schema < current; schema++) {
      const step = registry[record.type]?.[schema];
      if (!step) throw new Error(`no upcaster for ${record.type} schema ${schema}`);
      payload = step(payload);
    }
    // payload and meta may be getters of a stored record: copy them by name
    return { ...record, meta: record.meta, schema: current, payload };
  };
}

export const upcast = upcasterOf(UPCASTERS, SCHEMA_VERSIONS);
