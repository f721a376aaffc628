import { filter, map, type MonoTypeOperatorFunction, type OperatorFunction } from 'rxjs';
import type { LogRecord } from '../log/index.js';
import type { Projection } from './projection.js';

/**
 * The few RxJS operators projections are built from, named for what they do.
 */

/** Drops records a projection has already folded in (after a checkpoint or a catch-up read). */
export function after(seq: () => number): MonoTypeOperatorFunction<LogRecord> {
  return filter((record) => record.seq > seq());
}

/** Folds each record into the projection's state and passes the record's seq on. */
export function foldInto<S>(projection: Projection<S>, holder: { state: S }): OperatorFunction<LogRecord, number> {
  return map((record) => {
    holder.state = projection.evolve(holder.state, record);
    return record.seq;
  });
}

/** Only records of the given types. */
export function ofType(...types: string[]): MonoTypeOperatorFunction<LogRecord> {
  const wanted = new Set(types);
  return filter((record) => wanted.has(record.type));
}
