import { newEvent, taskStream, type TypedEvent } from '../events/index.js';
import { taskOf, tasksIn, type ProjectionRunner, type TasksState } from '../projections/index.js';
import type { AnyMessage, DeadTask, ExitResult, ProcessInfo, ProcessState, RootfsMount, RuntimeTask, TaskRuntime, TimestampedShimEvent } from '../shims/runtime.js';
import { alreadyExists, invalidArgument, notImplemented, StatusError } from '../util/errdefs.js';
import { validateIdentifier } from '../util/identifiers.js';
import type { CommandContext } from './context.js';
import type { ContainerCommands } from './containers.js';

const NOT_FOUND = 5;

export interface CreateTask {
  readonly containerId: string;
  readonly rootfs: readonly RootfsMount[];
  readonly stdin: string;
  readonly stdout: string;
  readonly stderr: string;
  readonly terminal: boolean;
  readonly options?: AnyMessage;
  readonly runtimePath?: string;
  readonly checkpoint?: string;
}

export interface ExecProcess {
  readonly execId: string;
  readonly stdin: string;
  readonly stdout: string;
  readonly stderr: string;
  readonly terminal: boolean;
  readonly spec?: AnyMessage;
}

/**
 * containerd's Tasks service over a shim runtime (services/tasks/local.go). Reads go to the
 * shims, which own the processes; what the shims report (and what the daemon finds out about
 * dead shims) is recorded as task events, the log's account of every process and its exit.
 */
export class TaskCommands {
  /** Shim events are appended one at a time, in the order they arrived. */
  private recording: Promise<unknown> = Promise.resolve();
  private readonly unsubscribe: (() => void)[] = [];

  constructor(
    private readonly ctx: CommandContext,
    private readonly view: ProjectionRunner<TasksState>,
    private readonly containers: () => ContainerCommands,
    private readonly runtime: TaskRuntime,
    private readonly warn: (message: string) => void = () => {},
  ) {
    this.unsubscribe.push(
      runtime.onEvent((event) => this.record(event.namespace, this.fromShim(event))),
      runtime.onDeath((dead) => this.record(dead.namespace, this.fromDeath(dead))),
    );
  }

  async create(namespace: string, request: CreateTask): Promise<{ pid: number }> {
    const container = this.containers().get(namespace, request.containerId);
    if (this.runtime.get(namespace, request.containerId)) throw alreadyExists(`task ${request.containerId}`);
    const task = await this.runtime.create({
      namespace,
      id: container.id,
      runtime: container.runtime.name,
      runtimePath: request.runtimePath,
      spec: container.spec.value,
      rootfs: request.rootfs,
      options: request.options ?? container.runtime.options,
      checkpoint: request.checkpoint,
      stdin: request.stdin,
      stdout: request.stdout,
      stderr: request.stderr,
      terminal: request.terminal,
    });
    return { pid: task.pid };
  }

  start(namespace: string, id: string, execId = ''): Promise<{ pid: number }> {
    return this.task(namespace, id).start(execId || undefined);
  }

  /** The task: its init process, shim and bundle go. */
  async delete(namespace: string, id: string): Promise<ExitResult> {
    const result = await this.task(namespace, id).delete();
    await this.settled();
    return result;
  }

  /** One exec process (stopped or never started). */
  deleteProcess(namespace: string, id: string, execId: string): Promise<ExitResult> {
    if (!execId) throw invalidArgument('exec id cannot be empty');
    return this.task(namespace, id).delete(execId);
  }

  state(namespace: string, id: string, execId = ''): Promise<ProcessState> {
    return this.task(namespace, id).state(execId || undefined);
  }

  /** The namespace's tasks with their init process; a task whose shim does not answer is left out. */
  async list(namespace: string): Promise<ProcessState[]> {
    const states = await Promise.all(this.runtime.list(namespace).map((task) => task.state().catch(() => undefined)));
    return states.filter((s): s is ProcessState => s !== undefined);
  }

  kill(namespace: string, id: string, signal: number, execId: string, all: boolean): Promise<void> {
    return this.task(namespace, id).kill(signal, { execId: execId || undefined, all });
  }

  async exec(namespace: string, id: string, process: ExecProcess): Promise<void> {
    if (!process.execId) throw invalidArgument('exec id cannot be empty');
    validateIdentifier(process.execId, 'exec id');
    if (!process.spec) throw invalidArgument('exec spec must be set');
    const task = this.task(namespace, id);
    await task.exec({ ...process, spec: process.spec });
  }

  resizePty(namespace: string, id: string, execId: string, width: number, height: number): Promise<void> {
    return this.task(namespace, id).resizePty(width, height, execId || undefined);
  }

  async closeIO(namespace: string, id: string, execId: string, stdin: boolean): Promise<void> {
    if (stdin) await this.task(namespace, id).closeIO(execId || undefined);
  }

  pause(namespace: string, id: string): Promise<void> {
    return this.task(namespace, id).pause();
  }

  resume(namespace: string, id: string): Promise<void> {
    return this.task(namespace, id).resume();
  }

  pids(namespace: string, id: string): Promise<ProcessInfo[]> {
    return this.task(namespace, id).pids();
  }

  update(namespace: string, id: string, resources: AnyMessage | undefined, annotations: Record<string, string>): Promise<void> {
    return this.task(namespace, id).update(resources, annotations);
  }

  wait(namespace: string, id: string, execId = ''): Promise<ExitResult> {
    return this.task(namespace, id).wait(execId || undefined);
  }

  /** Every running task of every namespace, for Metrics (which filters by id and namespace). */
  runningTasks(): RuntimeTask[] {
    const namespaces = new Set([...Object.keys(this.view.state.live)]);
    return [...namespaces].flatMap((ns) => this.runtime.list(ns));
  }

  checkpoint(): never {
    throw notImplemented('checkpoint is not supported by ledgerd (CRIU is not set up)');
  }

  /**
   * After a restart (DESIGN.md, recovery): reconnect the shims the state directory names, let the
   * runtime clean up and report the dead ones, and record exits that happened while the daemon was
   * down. Tasks the log has but no shim runs any more are reported as exited and deleted.
   */
  async reconcile(): Promise<string[]> {
    const lines: string[] = [];
    const live = await this.runtime.load((ns, id) => this.containers().find(ns, id)?.runtime.name);
    await this.settled();
    for (const task of live) {
      lines.push(`task ${task.namespace}/${task.id}: shim reconnected`);
      const recorded = taskOf(this.view.state, task.namespace, task.id);
      if (!recorded) continue;
      for (const process of [recorded.init, ...Object.values(recorded.execs)]) {
        if (process.status === 'stopped') continue;
        const execId = process.id === task.id ? undefined : process.id;
        const state = await task.state(execId).catch(() => undefined);
        if (state?.status !== 'stopped') continue;
        lines.push(`task ${task.namespace}/${task.id}: ${process.id} exited with ${state.exitStatus} while the daemon was down`);
        await this.record(task.namespace, [
          newEvent('TaskExited', task.namespace, taskStream(task.id), {
            containerId: task.id,
            id: process.id,
            pid: state.pid,
            exitStatus: state.exitStatus,
            exitedAt: state.exitedAt,
            reason: 'exited while the daemon was down',
          }),
        ]);
      }
    }
    const running = new Set(live.map((t) => `${t.namespace}/${t.id}`));
    for (const ns of Object.keys(this.view.state.live)) {
      for (const task of tasksIn(this.view.state, ns)) {
        if (running.has(`${ns}/${task.containerId}`)) continue;
        lines.push(`task ${ns}/${task.containerId}: no shim any more, recorded as exited and deleted`);
        const at = BigInt(Date.now()) * 1_000_000n;
        const exited = task.init.status === 'stopped' ? task.init : { ...task.init, exitStatus: 255, exitedAt: at };
        await this.record(ns, this.fromDeath({ namespace: ns, id: task.containerId, pid: exited.pid, exitStatus: exited.exitStatus, exitedAt: exited.exitedAt, reason: 'shim gone after a restart' }));
      }
    }
    return lines;
  }

  close(): void {
    this.unsubscribe.forEach((off) => off());
  }

  /** Resolves when every shim event received so far is in the log and the read model. */
  async settled(): Promise<void> {
    await this.recording;
    await this.ctx.projections.settle();
  }

  private task(namespace: string, id: string): RuntimeTask {
    const task = this.runtime.get(namespace, id);
    if (!task) throw new StatusError(NOT_FOUND, `task ${id} not found`);
    return task;
  }

  private record(namespace: string, events: TypedEvent[]): Promise<unknown> {
    if (events.length === 0) return this.recording;
    this.recording = this.recording
      .then(() => this.ctx.log.append(events))
      .then(({ last }) => this.ctx.projections.waitFor(last))
      .catch((err: Error) => this.warn(`recording task events in namespace ${namespace}: ${err.message}`));
    return this.recording;
  }

  private fromShim(event: TimestampedShimEvent): TypedEvent[] {
    const { namespace: ns, containerId } = event;
    const stream = taskStream(containerId);
    const meta = { source: 'shim', shimTimestamp: String(event.timestamp) };
    switch (event.kind) {
      case 'create':
        return [
          newEvent('TaskCreated', ns, stream, {
            containerId,
            bundle: event.bundle,
            rootfs: event.rootfs.map((m) => ({ type: m.type, source: m.source, target: m.target ?? '', options: [...m.options] })),
            io: event.stdio,
            checkpoint: event.checkpoint,
            pid: event.pid,
            runtime: this.runtime.get(ns, containerId)?.runtime ?? '',
          }, meta),
        ];
      case 'start':
        return [newEvent('TaskStarted', ns, stream, { containerId, pid: event.pid }, meta)];
      case 'exit':
        return [newEvent('TaskExited', ns, stream, { containerId, id: event.id, pid: event.pid, exitStatus: event.exitStatus, exitedAt: event.exitedAt }, meta)];
      case 'delete':
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

  /** containerd publishes /tasks/exit and /tasks/delete for a shim that died with its task registered. */
  private fromDeath(dead: DeadTask): TypedEvent[] {
    if (!taskOf(this.view.state, dead.namespace, dead.id)) return [];
    const stream = taskStream(dead.id);
    const exit = { pid: dead.pid, exitStatus: dead.exitStatus, exitedAt: dead.exitedAt, reason: dead.reason };
    const meta = { source: 'daemon', reason: dead.reason };
    return [
      newEvent('TaskExited', dead.namespace, stream, { containerId: dead.id, id: dead.id, ...exit }, meta),
      newEvent('TaskDeleted', dead.namespace, stream, { containerId: dead.id, ...exit }, meta),
    ];
  }
}
