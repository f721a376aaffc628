import type { EventRecord } from '../events/index.js';

/**
 * A read model: a reducer folded over the log. `evolve` must be deterministic and free of I/O;
 * it may update `state` in place (read models are large) and returns the state to keep. It sees
 * every event of the vocabulary, its payload typed by its `type` (the runner skips others).
 */
export interface Projection<S> {
  readonly name: string;
  /** Bump when `evolve` or the state's shape changes: checkpoints of other versions are ignored. */
  readonly version: number;
  initial(): S;
  evolve(state: S, record: EventRecord): S;
}
