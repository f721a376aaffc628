import { asEventRecord } from '../events/index.js';
import type { EventLog } from '../log/index.js';
import type { Projection } from './projection.js';
import type { StoredCheckpoint } from './runner.js';

const STEP = 16_384;

export interface PastState<S> {
  readonly state: S;
  /** The seq of the checkpoint the fold started from (0: the start of the log). */
  readonly from: number;
  /** Records folded on top of it. */
  readonly folded: number;
}

/**
 * Read models as they were right after record `seq`: for each, the newest checkpoint at or before
 * `seq` (of the projection's current version), plus the records after it up to `seq`, read once
 * for all of them. A checkpoint decodes into a fresh object, so the live states are never touched.
 * The fold gives the event loop a turn every STEP records, so a point far from any checkpoint
 * holds up nothing.
 */
export async function statesAt(log: EventLog, projections: readonly Projection<unknown>[], seq: number): Promise<PastState<unknown>[]> {
  const target = Math.min(Math.max(seq, 0), log.head);
  const starts = projections.map((projection) => nearestCheckpoint(log, projection, target));
  const states = starts.map((start) => start.state);
  const first = Math.min(target, ...starts.map((start) => start.from));
  for (let next = first + 1; next <= target; next += STEP) {
    if (next > first + 1) await new Promise((resolve) => setImmediate(resolve));
    for (const record of log.read(next, Math.min(target, next + STEP - 1))) {
      const event = asEventRecord(record);
      if (!event) continue;
      projections.forEach((projection, i) => {
        if (record.seq > starts[i]!.from) states[i] = projection.evolve(states[i], event);
      });
    }
  }
  return starts.map((start, i) => ({ state: states[i], from: start.from, folded: target - start.from }));
}

export async function stateAt<S>(log: EventLog, projection: Projection<S>, seq: number): Promise<PastState<S>> {
  const [past] = await statesAt(log, [projection as Projection<unknown>], seq);
  return past as PastState<S>;
}

function nearestCheckpoint<S>(log: EventLog, projection: Projection<S>, target: number): { state: S; from: number } {
  for (const at of log.checkpoints.series(projection.name)) {
    if (at > target) continue;
    const checkpoint = log.checkpoints.at<StoredCheckpoint<S>>(projection.name, at);
    if (checkpoint?.state.version === projection.version) return { state: checkpoint.state.state, from: at };
  }
  return { state: projection.initial(), from: 0 };
}

/**
 * The last record appended at or before `time` (nanoseconds since the epoch), 0 if none: record
 * times never decrease with seq, so a binary search reads about log2(head) records.
 */
export function seqAtTime(log: EventLog, time: bigint): number {
  let low = 0;
  let high = log.head;
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if (log.recordAt(middle).time <= time) low = middle;
    else high = middle - 1;
  }
  return low;
}
