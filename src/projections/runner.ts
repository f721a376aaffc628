import { BehaviorSubject } from 'rxjs';
import { asEventRecord } from '../events/index.js';
import type { EventLog, LogRecord } from '../log/index.js';
import type { Projection } from './projection.js';

export interface RunnerOptions {
  /** Write a checkpoint after this many applied records (0 = only on stop). */
  readonly checkpointEvery?: number;
}

/** What a runner keeps in a checkpoint: the state and the projection version that folded it. */
export interface StoredCheckpoint<S> {
  readonly version: number;
  readonly state: S;
}

export interface StartReport {
  readonly name: string;
  readonly checkpointSeq: number;
  readonly replayed: number;
}

/**
 * One projection's state and progress. A ProjectionSet feeds it records (the replay at start-up,
 * then the live tail); it folds each in once, in order, checkpoints every K records, and
 * `waitFor(seq)` gives commands read-your-writes.
 */
export class ProjectionRunner<S> {
  readonly applied$ = new BehaviorSubject(0);
  state: S;
  private appliedSeq = 0;
  private checkpointSeq = 0;
  private checkpointing: Promise<void> = Promise.resolve();
  private failure: Error | undefined;

  constructor(
    private readonly log: EventLog,
    readonly projection: Projection<S>,
    private readonly options: RunnerOptions = {},
  ) {
    this.state = projection.initial();
  }

  get name(): string {
    return this.projection.name;
  }

  get applied(): number {
    return this.appliedSeq;
  }

  /** The seq of the newest checkpoint written (or being written). */
  get checkpointed(): number {
    return this.checkpointSeq;
  }

  /** Loads the checkpoint (if it is of this projection's version) and returns its seq. */
  load(): number {
    const checkpoint = this.log.checkpoints.get<StoredCheckpoint<S>>(this.name);
    if (checkpoint && checkpoint.state.version === this.projection.version && checkpoint.seq <= this.log.head) {
      this.state = checkpoint.state.state;
      this.appliedSeq = this.checkpointSeq = checkpoint.seq;
    }
    return this.appliedSeq;
  }

  /** Folds one record in, unless it is already part of the state. */
  apply(record: LogRecord): void {
    if (record.seq <= this.appliedSeq) return;
    const event = asEventRecord(record);
    if (event) this.state = this.projection.evolve(this.state, event);
    this.appliedSeq = record.seq;
  }

  /** Tells waiters how far the state goes, and checkpoints when K records have gone by. */
  publish(): void {
    if (this.applied$.value !== this.appliedSeq) this.applied$.next(this.appliedSeq);
    const every = this.options.checkpointEvery ?? 0;
    if (every > 0 && this.appliedSeq - this.checkpointSeq >= every) {
      this.checkpoint().catch((err: Error) => this.fail(new Error(`checkpoint failed: ${err.message}`)));
    }
  }

  fail(err: Error): void {
    this.failure ??= new Error(`projection ${this.name} stopped at ${this.appliedSeq}: ${err.message}`);
    this.applied$.error(this.failure);
  }

  /** Resolves once every record up to `seq` is folded into the state. */
  waitFor(seq: number): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.applied$.value >= seq) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const subscription = this.applied$.subscribe({
        next: (applied) => {
          if (applied >= seq) {
            resolve();
            queueMicrotask(() => subscription.unsubscribe());
          }
        },
        error: reject,
      });
    });
  }

  /** Writes the state as of now; it is encoded synchronously, so later records do not leak in. */
  checkpoint(): Promise<void> {
    const seq = this.appliedSeq;
    if (seq === this.checkpointSeq || this.failure) return this.checkpointing;
    this.checkpointSeq = seq;
    const write = this.log.checkpoints.put<StoredCheckpoint<S>>(this.name, {
      seq,
      state: { version: this.projection.version, state: this.state },
    });
    this.checkpointing = this.checkpointing.then(() => write);
    return this.checkpointing;
  }
}
