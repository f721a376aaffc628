import { BehaviorSubject, type Subscription } from 'rxjs';
import type { EventLog } from '../log/index.js';
import type { Projection } from './projection.js';
import { after, foldInto } from './rxutils.js';

export interface RunnerOptions {
  /** Write a checkpoint after this many applied records (0 = only on stop). */
  readonly checkpointEvery?: number;
}

interface StoredCheckpoint<S> {
  readonly version: number;
  readonly state: S;
}

export interface StartReport {
  readonly name: string;
  readonly checkpointSeq: number;
  readonly replayed: number;
}

/**
 * Runs one projection over the log: start-up loads its checkpoint and replays the tail
 * synchronously, then follows `tail$`. `waitFor(seq)` gives commands read-your-writes.
 */
export class ProjectionRunner<S> {
  readonly applied$: BehaviorSubject<number>;
  state: S;
  private subscription: Subscription | undefined;
  private lastCheckpoint = 0;
  private checkpointing: Promise<void> = Promise.resolve();
  private failure: Error | undefined;

  constructor(
    private readonly log: EventLog,
    readonly projection: Projection<S>,
    private readonly options: RunnerOptions = {},
  ) {
    this.state = projection.initial();
    this.applied$ = new BehaviorSubject(0);
  }

  get name(): string {
    return this.projection.name;
  }

  get applied(): number {
    return this.applied$.value;
  }

  start(): StartReport {
    const checkpoint = this.log.checkpoints.get<StoredCheckpoint<S>>(this.name);
    let from = 0;
    if (checkpoint && checkpoint.state.version === this.projection.version && checkpoint.seq <= this.log.head) {
      this.state = checkpoint.state.state;
      from = checkpoint.seq;
    }
    this.lastCheckpoint = from;
    let applied = from;
    for (const record of this.log.read(from + 1)) {
      this.state = this.projection.evolve(this.state, record);
      applied = record.seq;
    }
    this.applied$.next(applied);

    this.subscription = this.log
      .tail$(applied + 1)
      .pipe(after(() => this.applied), foldInto(this.projection, this))
      .subscribe({
        next: (seq) => {
          this.applied$.next(seq);
          this.maybeCheckpoint();
        },
        error: (err: Error) => {
          this.failure = new Error(`projection ${this.name} stopped at ${this.applied}: ${err.message}`);
          this.applied$.error(this.failure);
        },
      });
    return { name: this.name, checkpointSeq: from, replayed: applied - from };
  }

  /** Resolves once every record up to `seq` is folded into the state. */
  waitFor(seq: number): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.applied >= seq) return Promise.resolve();
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

  /** Writes the state as of now; the state is encoded synchronously, so later records do not leak in. */
  checkpoint(): Promise<void> {
    const seq = this.applied;
    if (seq === this.lastCheckpoint) return this.checkpointing;
    this.lastCheckpoint = seq;
    const write = this.log.checkpoints.put<StoredCheckpoint<S>>(this.name, {
      seq,
      state: { version: this.projection.version, state: this.state },
    });
    this.checkpointing = this.checkpointing.then(() => write);
    return this.checkpointing;
  }

  async stop(): Promise<void> {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
    if (!this.failure) await this.checkpoint();
  }

  private maybeCheckpoint(): void {
    const every = this.options.checkpointEvery ?? 0;
    if (every > 0 && this.applied - this.lastCheckpoint >= every) {
      this.checkpoint().catch((err: Error) => {
        this.failure ??= new Error(`projection ${this.name}: checkpoint failed: ${err.message}`);
      });
    }
  }
}
