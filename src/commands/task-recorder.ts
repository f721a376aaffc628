import { newEvent, taskStream, type TypedEvent } from '../events/index.js';
import { taskOf, type ProjectionRunner, type TasksState } from '../projections/index.js';
import type { DeadTask, TimestampedShimEvent } from '../shims/runtime/task-runtime.js';
import type { CommandContext } from './context.js';

interface Watcher {
  readonly holds: () => boolean;
  readonly resolve: (held: boolean) => void;
}

/**
 * The daemon is the single writer of task events: what shims report, and what the daemon finds
 * out about dead shims, is appended here one batch at a time in arrival order. Each batch is
 * decided when its turn comes, against the read model with every earlier batch folded in, so a
 * report about a task the log has already closed is dropped instead of recorded twice.
 */
export class TaskRecorder {
  private chain: Promise<void> = Promise.resolve();
  private readonly watchers = new Set<Watcher>();

  constructor(
    private readonly ctx: CommandContext,
    private readonly view: ProjectionRunner<TasksState>,
    /** The runtime name a task runs under, for TaskCreated. */
    private readonly runtimeOf: (namespace: string, id: string) => string,
    /** Whether the runtime has (or is creating) this task with this init pid: a late /tasks/create of a closed one is not. */
    private readonly isCurrent: (namespace: string, id: string, pid: number) => boolean,
    private readonly warn: (message: string) => void,
  ) {}

  get state(): TasksState {
    return this.view.state;
  }

  shimEvent(event: TimestampedShimEvent): Promise<void> {
    return this.record(event.namespace, () => this.fromShim(event));
  }

  /** containerd publishes /tasks/exit and /tasks/delete for a shim that died with its task registered. */
  death(dead: DeadTask): Promise<void> {
    return this.record(dead.namespace, () => {
      const task = taskOf(this.view.state, dead.namespace, dead.id);
      if (!task) return [];
      const stream = taskStream(dead.id);
      const exit = { pid: dead.pid, exitStatus: dead.exitStatus, exitedAt: dead.exitedAt, reason: dead.reason };
      const meta = { source: 'daemon', actor: 'daemon', reason: dead.reason };
      const events: TypedEvent[] = [];
      if (task.init.status !== 'stopped') {
        events.push(newEvent('TaskExited', dead.namespace, stream, { containerId: dead.id, id: dead.id, ...exit }, meta));
      }
      events.push(newEvent('TaskDeleted', dead.namespace, stream, { containerId: dead.id, ...exit }, meta));
      return events;
    });
  }

  /** Appends what `decide` returns once every earlier batch is in the log and the read model. */
  record(namespace: string, decide: () => TypedEvent[]): Promise<void> {
    this.chain = this.chain
      .then(async () => {
        const events = decide();
        if (events.length === 0) return;
        const { last } = await this.ctx.log.append(events);
        await this.ctx.projections.waitFor(last);
        this.notify();
      })
      .catch((err: Error) => this.warn(`recording task events in namespace ${namespace}: ${err.message}`));
    return this.chain;
  }

  /** Resolves when every report received so far is in the log and the read model. */
  async settled(): Promise<void> {
    await this.chain;
    await this.ctx.projections.settle();
  }

  /** Resolves true once `holds` is true of the recorded state, false after `timeoutMs`. */
  async until(holds: () => boolean, timeoutMs: number): Promise<boolean> {
    await this.settled();
    if (holds()) return true;
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => finish(false), timeoutMs);
      const finish = (held: boolean) => {
        clearTimeout(timer);
        this.watchers.delete(watcher);
        resolve(held);
      };
      const watcher: Watcher = { holds, resolve: finish };
      this.watchers.add(watcher);
    });
  }

  private notify(): void {
    for (const watcher of [...this.watchers]) if (watcher.holds()) watcher.resolve(true);
  }

  private fromShim(event: TimestampedShimEvent): TypedEvent[] {
    const { namespace: ns, containerId } = event;
    const stream = taskStream(containerId);
    const meta = { source: 'shim', actor: 'shim', shimTimestamp: String(event.timestamp) };
    const task = taskOf(this.view.state, ns, containerId);
    if (event.kind === 'create') {
      if (!this.isCurrent(ns, containerId, event.pid)) return [];
      return [
        newEvent('TaskCreated', ns, stream, {
          containerId,
          bundle: event.bundle,
          rootfs: event.rootfs.map((m) => ({ type: m.type, source: m.source, target: m.target ?? '', options: [...m.options] })),
          io: { stdin: event.stdio.stdin, stdout: event.stdio.stdout, stderr: event.stdio.stderr, terminal: event.stdio.terminal },
          checkpoint: event.checkpoint,
          pid: event.pid,
          runtime: this.runtimeOf(ns, containerId),
        }, meta),
      ];
    }
    // the log has no such task (any more): the daemon already closed it, or never heard of it
    if (!task) return [];
    switch (event.kind) {
      case 'start':
        return [newEvent('TaskStarted', ns, stream, { containerId, pid: event.pid }, meta)];
      case 'exit': {
        const process = event.id === containerId ? task.init : task.execs[event.id];
        if (process?.status === 'stopped') return [];
        return [newEvent('TaskExited', ns, stream, { containerId, id: event.id, pid: event.pid, exitStatus: event.exitStatus, exitedAt: event.exitedAt }, meta)];
      }
      case 'delete':
        if (task.init.pid !== event.pid) return [];
        return [newEvent('TaskDeleted', ns, stream, { containerId, pid: event.pid, exitStatus: event.exitStatus, exitedAt: event.exitedAt }, meta)];
      case 'exec-added':
        return [newEvent('TaskExecAdded', ns, stream, { containerId, execId: event.execId }, meta)];
      case 'exec-started':
        return [newEvent('TaskExecStarted', ns, stream, { containerId, execId: event.execId, pid: event.pid }, meta)];
      case 'paused':
        return [newEvent('TaskPaused', ns, stream, { containerId }, meta)];
      case 'resumed':
        return [newEvent('TaskResumed', ns, stream, { containerId }, meta)];
      case 'oom':
        return [newEvent('TaskOOM', ns, stream, { containerId }, meta)];
    }
  }
}
