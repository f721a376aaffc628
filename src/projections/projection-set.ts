import type { Subscription } from 'rxjs';
import type { EventLog } from '../log/index.js';
import type { Projection } from './projection.js';
import { ProjectionRunner, type RunnerOptions, type StartReport } from './runner.js';

type StateOf<P> = P extends Projection<infer S> ? S : never;

/**
 * All read models of the daemon. Start-up loads each checkpoint and replays the log once, from
 * the oldest checkpoint, into all of them; then one tail of the log feeds them all.
 */
export class ProjectionSet {
  private readonly runners: ProjectionRunner<unknown>[] = [];
  private subscription: Subscription | undefined;

  constructor(
    private readonly log: EventLog,
    private readonly options: RunnerOptions = {},
  ) {}

  /** The runner of a read model, added on first request: every reader of one read model shares it. */
  add<S>(projection: Projection<S>): ProjectionRunner<S> {
    const existing = this.runners.find((runner) => runner.projection === projection);
    if (existing) return existing as ProjectionRunner<S>;
    if (this.subscription) throw new Error(`projection ${projection.name} added after start`);
    const runner = new ProjectionRunner(this.log, projection, this.options);
    this.runners.push(runner as ProjectionRunner<unknown>);
    return runner;
  }

  /** The runners of several read models, by the names given: `addAll({ images: imagesProjection })`. */
  addAll<P extends Record<string, Projection<any>>>(projections: P): { readonly [K in keyof P]: ProjectionRunner<StateOf<P[K]>> } {
    return Object.fromEntries(Object.entries(projections).map(([name, projection]) => [name, this.add(projection)])) as { [K in keyof P]: ProjectionRunner<StateOf<P[K]>> };
  }

  start(): StartReport[] {
    const checkpoints = this.runners.map((runner) => runner.load());
    const from = Math.min(...checkpoints, this.log.head);
    let head = from;
    for (const record of this.log.read(from + 1)) {
      for (const runner of this.runners) runner.apply(record);
      head = record.seq;
    }
    for (const runner of this.runners) runner.publish();

    this.subscription = this.log.tail$(head + 1).subscribe({
      next: (record) => {
        for (const runner of this.runners) {
          runner.apply(record);
          runner.publish();
        }
      },
      error: (err: Error) => this.runners.forEach((runner) => runner.fail(err)),
    });
    return this.runners.map((runner, i) => ({
      name: runner.name,
      checkpointSeq: checkpoints[i]!,
      replayed: head - checkpoints[i]!,
    }));
  }

  all(): readonly ProjectionRunner<unknown>[] {
    return this.runners;
  }

  async waitFor(seq: number): Promise<void> {
    await Promise.all(this.runners.map((runner) => runner.waitFor(seq)));
  }

  /** The seq start-up replays from: records up to it are in every projection's checkpoint. */
  oldestCheckpoint(): number {
    return Math.min(...this.runners.map((runner) => runner.checkpointed), this.log.head);
  }

  /** Whether every projection holds every durable record. */
  holdsHead(): boolean {
    const head = this.log.head;
    return this.runners.every((runner) => runner.applied >= head);
  }

  /** Waits until everything appended so far is durable (or refused) and folded in. */
  async settle(): Promise<void> {
    await this.waitFor(await this.log.settled());
  }

  /** Stops following the log and checkpoints every projection. */
  async stop(): Promise<void> {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
    await Promise.all(this.runners.map((runner) => runner.checkpoint()));
  }

  /** The plugin host's name for stop(). */
  close(): Promise<void> {
    return this.stop();
  }
}
