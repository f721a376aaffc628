import type { EventLog } from '../log/index.js';
import type { Projection } from './projection.js';
import { ProjectionRunner, type RunnerOptions, type StartReport } from './runner.js';

/** All read models of the daemon, started together; `waitFor` waits for every one of them. */
export class ProjectionSet {
  private readonly runners: ProjectionRunner<unknown>[] = [];

  constructor(
    private readonly log: EventLog,
    private readonly options: RunnerOptions = {},
  ) {}

  add<S>(projection: Projection<S>): ProjectionRunner<S> {
    const runner = new ProjectionRunner(this.log, projection, this.options);
    this.runners.push(runner as ProjectionRunner<unknown>);
    return runner;
  }

  start(): StartReport[] {
    return this.runners.map((runner) => runner.start());
  }

  all(): readonly ProjectionRunner<unknown>[] {
    return this.runners;
  }

  async waitFor(seq: number): Promise<void> {
    await Promise.all(this.runners.map((runner) => runner.waitFor(seq)));
  }

  /** Waits until everything appended or reserved so far is folded in. */
  settle(): Promise<void> {
    return this.waitFor(this.log.lastReserved);
  }

  async stop(): Promise<void> {
    await Promise.all(this.runners.map((runner) => runner.stop()));
  }
}
