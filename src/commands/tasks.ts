import { taskStream, type TaskCreated } from '../events/index.js';
import { containerOf, taskOf, tasksIn, type ContainersState, type ProcessRecord, type ProjectionRunner, type TasksState } from '../projections/index.js';
import type { AnyMessage, ExitResult, ProcessInfo, ProcessState, RootfsMount, RuntimeTask, ShimEvent, TaskRuntime, TimestampedShimEvent } from '../shims/runtime/task-runtime.js';
import { alreadyExists, invalidArgument, LedgerError, notImplemented, StatusError } from '../util/errdefs.js';
import { Code } from '../util/grpc-codes.js';
import { validateIdentifier } from '../util/identifiers.js';
import { KeyedMutex } from '../util/mutex.js';
import { traced } from '../util/tracing.js';
import { decideAndAppend, expectedVersion, OWN_STREAM, type CommandContext, type RequestMeta } from './context.js';
import { existingContainer } from './containers.js';
import { decideTask, type TaskCommand } from './task-decider.js';

/** Meta of what the daemon records on its own account (a dead shim, a reconciliation). */
const BY_DAEMON = { source: 'daemon', actor: 'daemon' } as const;

/** The kind of shim report that tells of what a client's request did (a client's start is a shim's start). */
type RequestedKind = 'create' | 'start' | 'exec-started' | 'exec-added' | 'delete' | 'paused' | 'resumed';

export interface TaskCommandOptions {
  readonly warn?: (message: string) => void;
}

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
 * shims, which own the processes. The log's account of every task and process is kept by the
 * task decider (task-decider.ts): each command asks it to record what its shim answered before
 * answering its client, the shims' reports (the only source of exits) are commands to it as
 * well, and so are the deaths of shims. Every call names a container that must exist, then its
 * task: containerd's two NotFounds.
 */
export class TaskCommands {
  private readonly unsubscribe: (() => void)[] = [];
  /** Creates in flight (`ns/id`): a second create of the same task is refused, other calls see no task yet. */
  private readonly creating = new Set<string>();
  /**
   * A task's decisions, its shim's reports and its requests' records alike, are taken one after
   * another in the order they came. The same fact is often asked twice at once (Start's answer
   * and the shim's /tasks/start): the second then finds it recorded instead of conflicting with
   * the first's append and settling the whole log before deciding again (measured 80 ms once at
   * load 8, behind another task's slow commit).
   */
  private readonly decisions = new KeyedMutex();
  private readonly pendingReports = new Set<Promise<void>>();
  /**
   * Who asked for what a shim is doing now, by `ns/id#kind`: the shim's report of it (which may be
   * recorded before the request's own answer) names the requester, not the shim.
   */
  private readonly requesters = new Map<string, RequestMeta>();
  private readonly warn: (message: string) => void;

  constructor(
    private readonly ctx: CommandContext,
    private readonly view: ProjectionRunner<TasksState>,
    private readonly containers: ProjectionRunner<ContainersState>,
    private readonly runtime: TaskRuntime,
    options: TaskCommandOptions = {},
  ) {
    this.warn = options.warn ?? (() => {});
    this.unsubscribe.push(
      runtime.onEvent((event) => this.report(event)),
      runtime.onDeath((dead) => {
        const exit = { pid: dead.pid, exitStatus: dead.exitStatus, exitedAt: dead.exitedAt, reason: dead.reason };
        // nobody to answer: a failure to record it is said in the daemon's log
        this.track(this.record(dead.namespace, dead.id, { type: 'RecordDeleted', ...exit }, { ...BY_DAEMON, reason: dead.reason })).catch((err: Error) =>
          this.warn(`recording the end of task ${dead.namespace}/${dead.id}: ${err.message}`),
        );
      }),
    );
  }

  /** The tasks read model: what the log says about every task. */
  get recorded(): TasksState {
    return this.view.state;
  }

  async create(namespace: string, request: CreateTask, meta: RequestMeta = BY_DAEMON): Promise<{ pid: number }> {
    const container = existingContainer(this.containers.state, namespace, request.containerId);
    if (request.checkpoint) throw notImplemented(`task ${container.id}: restoring from a checkpoint is not supported by ledgerd (no CRIU support)`);
    const key = `${namespace}/${container.id}`;
    if (this.runtime.get(namespace, container.id) || this.creating.has(key)) throw alreadyExists(`task ${container.id}`);
    this.creating.add(key);
    try {
      const task = await this.requested(namespace, container.id, 'create', meta, () =>
        this.runtime.create({
          namespace,
          id: container.id,
          runtime: container.runtime.name,
          runtimePath: request.runtimePath,
          spec: container.spec.value,
          rootfs: request.rootfs,
          options: request.options ?? container.runtime.options,
          runtimeOptions: container.runtime.options,
          checkpoint: request.checkpoint,
          stdin: request.stdin,
          stdout: request.stdout,
          stderr: request.stderr,
          terminal: request.terminal,
        }),
      );
      const created: TaskCreated = {
        containerId: task.id,
        bundle: task.bundle,
        rootfs: request.rootfs.map((m) => ({ type: m.type, source: m.source, target: m.target ?? '', options: [...m.options] })),
        io: { stdin: request.stdin, stdout: request.stdout, stderr: request.stderr, terminal: request.terminal },
        checkpoint: request.checkpoint ?? '',
        pid: task.pid,
        runtime: request.runtimePath || container.runtime.name,
      };
      try {
        await this.record(namespace, container.id, { type: 'RecordCreated', created }, meta);
      } catch (err) {
        // what the log does not hold is no task: it goes with its shim and bundle
        await this.runtime.discard(task).catch((e: Error) => this.warn(`task ${key}: removing it after its create failed to be recorded: ${e.message}`));
        throw err;
      }
      return { pid: task.pid };
    } finally {
      this.creating.delete(key);
    }
  }

  async start(namespace: string, id: string, execId = '', meta: RequestMeta = BY_DAEMON): Promise<{ pid: number }> {
    const task = this.task(namespace, id);
    const { pid } = await this.requested(namespace, id, execId ? 'exec-started' : 'start', meta, () => task.start(execId || undefined));
    await this.record(namespace, id, { type: 'RecordStarted', ...(execId ? { execId } : {}), pid }, meta);
    return { pid };
  }

  /** The task: its init process, shim and bundle go. A running task is refused by its shim. */
  async delete(namespace: string, id: string, meta: RequestMeta = BY_DAEMON): Promise<ExitResult> {
    const task = this.task(namespace, id);
    const recordDeleted = (r: ExitResult) => this.record(namespace, id, { type: 'RecordDeleted', pid: task.pid, exitStatus: r.exitStatus, exitedAt: BigInt(r.exitedAt) }, meta);
    // recorded while the shim shuts down and the bundle goes: the fact needs only the shim's answer
    let recorded: Promise<void> | undefined;
    const whenDeleted = (r: ExitResult) => {
      recorded = recordDeleted(r);
      return recorded.catch(() => undefined); // its error is the caller's, below
    };
    let result: ExitResult;
    try {
      result = await this.requested(namespace, id, 'delete', meta, () => task.delete(undefined, whenDeleted));
    } catch (err) {
      const status = asStatus(err);
      throw new StatusError(status.code, status.message.startsWith('failed to delete task') ? status.message : `failed to delete task: ${status.message}`);
    }
    await (recorded ?? recordDeleted(result));
    return result;
  }

  /** One exec process (stopped or never started); containerd publishes nothing, the log records it. */
  async deleteProcess(namespace: string, id: string, execId: string, meta: RequestMeta = BY_DAEMON): Promise<ExitResult> {
    const task = this.task(namespace, id);
    if (!execId) throw invalidArgument('exec id cannot be empty: DeleteProcess deletes exec processes, Delete deletes the task');
    const result = await shimCall(() => task.delete(execId));
    await this.record(namespace, id, { type: 'RecordExecDeleted', execId, pid: result.pid, exitStatus: result.exitStatus, exitedAt: BigInt(result.exitedAt) }, meta);
    return result;
  }

  /** containerd's getProcessState: NotFound is an error, any other failure (a shim past its state timeout) shows as status UNKNOWN. */
  async state(namespace: string, id: string, execId = ''): Promise<ProcessState> {
    const task = this.task(namespace, id);
    return processState(task, execId || undefined);
  }

  /** The namespace's tasks with their init process; a task that vanished meanwhile is left out. */
  async list(namespace: string): Promise<ProcessState[]> {
    const tasks = this.runtime.list(namespace).filter((task) => !this.creating.has(`${namespace}/${task.id}`));
    const states = await Promise.all(tasks.map((task) => processState(task).catch(() => undefined)));
    return states.filter((s): s is ProcessState => s !== undefined);
  }

  kill(namespace: string, id: string, signal: number, execId: string, all: boolean): Promise<void> {
    return shimCall(() => this.task(namespace, id).kill(signal, { execId: execId || undefined, all }));
  }

  async exec(namespace: string, id: string, process: ExecProcess, meta: RequestMeta = BY_DAEMON): Promise<void> {
    if (!process.execId) throw new StatusError(Code.InvalidArgument, 'exec id cannot be empty');
    const task = this.task(namespace, id);
    try {
      validateIdentifier(process.execId);
    } catch (err) {
      throw invalidArgument(`invalid exec id ${process.execId}: ${(err as Error).message}`);
    }
    if (!process.spec) throw invalidArgument(`exec ${process.execId}: spec must be set (a runtime-spec Process)`);
    const spec = process.spec;
    await this.requested(namespace, id, 'exec-added', meta, () => task.exec({ ...process, spec }));
    await this.record(namespace, id, { type: 'RecordExecAdded', execId: process.execId }, meta);
  }

  resizePty(namespace: string, id: string, execId: string, width: number, height: number): Promise<void> {
    return shimCall(() => this.task(namespace, id).resizePty(width, height, execId || undefined));
  }

  async closeIO(namespace: string, id: string, execId: string, stdin: boolean): Promise<void> {
    const task = this.task(namespace, id);
    if (stdin) await shimCall(() => task.closeIO(execId || undefined));
  }

  async pause(namespace: string, id: string, meta: RequestMeta = BY_DAEMON): Promise<void> {
    const task = this.task(namespace, id);
    await this.requested(namespace, id, 'paused', meta, () => task.pause());
    await this.record(namespace, id, { type: 'RecordPaused' }, meta);
  }

  async resume(namespace: string, id: string, meta: RequestMeta = BY_DAEMON): Promise<void> {
    const task = this.task(namespace, id);
    await this.requested(namespace, id, 'resumed', meta, () => task.resume());
    await this.record(namespace, id, { type: 'RecordResumed' }, meta);
  }

  pids(namespace: string, id: string): Promise<ProcessInfo[]> {
    return shimCall(() => this.task(namespace, id).pids());
  }

  update(namespace: string, id: string, resources: AnyMessage | undefined, annotations: Record<string, string>): Promise<void> {
    return shimCall(() => this.task(namespace, id).update(resources, annotations));
  }

  /** An exit the log already holds is answered from it (after a restart too); else the shim's. */
  async wait(namespace: string, id: string, execId = ''): Promise<ExitResult> {
    const task = this.task(namespace, id);
    // this task's reports received so far are decided and in the read model; other tasks' appends do not matter
    await this.decisions.run(`${namespace}/${id}`, async () => {});
    const recorded = this.recordedProcess(namespace, id, execId);
    if (recorded?.status === 'stopped') return { pid: recorded.pid, exitStatus: recorded.exitStatus, exitedAt: BigInt(recorded.exitedAt) };
    return shimCall(() => task.wait(execId || undefined));
  }

  /** Every task of every namespace that has tasks or containers, for Metrics (which filters by id and namespace). */
  allTasks(): RuntimeTask[] {
    const namespaces = new Set([...Object.keys(this.recorded.live), ...Object.keys(this.containers.state.live)]);
    return [...namespaces].sort().flatMap((ns) => this.runtime.list(ns).filter((task) => !this.creating.has(`${ns}/${task.id}`)));
  }

  checkpoint(namespace: string, id: string): never {
    this.task(namespace, id);
    throw notImplemented(`checkpoint of task ${id}: ledgerd does not checkpoint tasks (no CRIU support)`);
  }

  /**
   * After a restart (DESIGN.md, recovery): reconnect the shims the state directory names, let the
   * runtime clean up and report the dead ones, and record exits that happened while the daemon was
   * down. A shim's task the log does not hold was never acknowledged: it is removed with its shim.
   * Tasks the log has but no shim runs any more are recorded as exited and deleted.
   */
  async reconcile(): Promise<string[]> {
    const lines: string[] = [];
    const live = await this.runtime.load((ns, id) => containerOf(this.containers.state, ns, id)?.runtime.name);
    await this.settled();
    const running = new Set<string>();
    for (const task of live) {
      const recorded = taskOf(this.recorded, task.namespace, task.id);
      if (!recorded || recorded.init.pid !== task.pid) {
        // its Create was never answered (the daemon died first): nobody knows of it but its shim
        await this.runtime.discard(task);
        lines.push(`task ${task.namespace}/${task.id}: never acknowledged, removed with its shim and bundle`);
        continue;
      }
      running.add(`${task.namespace}/${task.id}`);
      lines.push(`task ${task.namespace}/${task.id}: shim reconnected`);
      for (const process of [recorded.init, ...Object.values(recorded.execs)]) {
        if (process.status === 'stopped') continue;
        const execId = process.id === task.id ? undefined : process.id;
        const state = await task.state(execId).catch(() => undefined);
        if (state?.status !== 'stopped') continue;
        lines.push(`task ${task.namespace}/${task.id}: ${process.id} exited with ${state.exitStatus} while the daemon was down`);
        const reason = 'exited while the daemon was down';
        const exited: TaskCommand = { type: 'RecordExited', id: process.id, pid: state.pid, exitStatus: state.exitStatus, exitedAt: state.exitedAt, reason };
        await this.record(task.namespace, task.id, exited, { ...BY_DAEMON, actor: 'reconciler', reason });
      }
    }
    for (const ns of Object.keys(this.recorded.live)) {
      for (const task of tasksIn(this.recorded, ns)) {
        if (running.has(`${ns}/${task.containerId}`)) continue;
        lines.push(`task ${ns}/${task.containerId}: no shim any more, recorded as exited and deleted`);
        const stopped = task.init.status === 'stopped';
        const reason = 'shim gone after a restart';
        await this.record(ns, task.containerId, {
          type: 'RecordDeleted',
          pid: task.init.pid,
          exitStatus: stopped ? task.init.exitStatus : 255,
          exitedAt: stopped ? BigInt(task.init.exitedAt) : BigInt(Date.now()) * 1_000_000n,
          reason,
        }, { ...BY_DAEMON, actor: 'reconciler', reason });
      }
    }
    return lines;
  }

  close(): void {
    this.unsubscribe.forEach((off) => off());
  }

  /** Resolves when every shim report received so far is decided, and the read model holds it. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.pendingReports]);
    await this.ctx.projections.settle();
  }

  /** A shim's report as a command to the task decider; the promise fails with the decision's error. */
  private report(event: TimestampedShimEvent): Promise<void> {
    const command = reportedCommand(event);
    if (!command) return Promise.resolve();
    const requester = this.requesters.get(`${event.namespace}/${event.containerId}#${event.kind}`);
    const shimTimestamp = String(event.timestamp);
    const meta = requester ? { ...requester, source: 'shim', shimTimestamp } : { source: 'shim', actor: 'shim', shimTimestamp };
    const container = { namespace: event.namespace, id: event.containerId };
    // traced in the container's trace: the exit of a `ctr run` belongs with its calls
    const decide = () => traced(`shim report ${event.kind}`, { 'containerd.namespace': container.namespace, 'containerd.container.id': container.id }, () => this.decide(container.namespace, container.id, command, meta), container);
    return this.track(this.decisions.run(`${container.namespace}/${container.id}`, decide));
  }

  /**
   * A shim call made for a client: a report of `kind` the shim sends meanwhile names the client.
   * The request's own record comes after the answer, and that report may be recorded first.
   */
  private async requested<T>(namespace: string, id: string, kind: RequestedKind, meta: RequestMeta, call: () => Promise<T>): Promise<T> {
    const key = `${namespace}/${id}#${kind}`;
    this.requesters.set(key, meta);
    try {
      return await shimCall(call);
    } finally {
      if (this.requesters.get(key) === meta) this.requesters.delete(key);
    }
  }

  private track(pending: Promise<void>): Promise<void> {
    this.pendingReports.add(pending);
    const done = () => this.pendingReports.delete(pending);
    pending.then(done, done);
    return pending;
  }

  /** Asks the task decider, after the task's decisions asked before (see `decisions`). */
  private record(namespace: string, id: string, command: TaskCommand, meta: Readonly<Record<string, unknown>>): Promise<void> {
    return this.decisions.run(`${namespace}/${id}`, () => this.decide(namespace, id, command, meta));
  }

  /**
   * Decides against the task as the log has it and appends with the version it saw. The decision
   * reads the task's own stream only: it need not wait for other tasks' appends to settle.
   */
  private decide(namespace: string, id: string, command: TaskCommand, meta: Readonly<Record<string, unknown>>): Promise<void> {
    return decideAndAppend(
      this.ctx,
      () => ({
        events: decideTask(command, taskOf(this.view.state, namespace, id), { namespace, containerId: id }, meta),
        expected: [expectedVersion(this.ctx, this.view.state, namespace, taskStream(id))],
        result: undefined,
      }),
      OWN_STREAM,
    );
  }

  /** containerd's getTask: the container first, then its task in the runtime (one being created is not there yet). */
  private task(namespace: string, id: string): RuntimeTask {
    existingContainer(this.containers.state, namespace, id);
    const task = this.creating.has(`${namespace}/${id}`) ? undefined : this.runtime.get(namespace, id);
    if (!task) throw new StatusError(Code.NotFound, `task ${id} not found`);
    return task;
  }

  private recordedProcess(namespace: string, id: string, execId: string): ProcessRecord | undefined {
    const task = taskOf(this.recorded, namespace, id);
    return execId ? task?.execs[execId] : task?.init;
  }
}

/**
 * The command a shim's report asks for. /tasks/create asks for none: a task is created by the
 * Create command from its shim's answer, and the report can outlive that create (a shim retries
 * it to a daemon restarted meanwhile, which must not adopt a task nobody was told of).
 */
function reportedCommand(event: ShimEvent): TaskCommand | undefined {
  switch (event.kind) {
    case 'create':
      return undefined;
    case 'start':
      return { type: 'RecordStarted', pid: event.pid };
    case 'exec-started':
      return { type: 'RecordStarted', execId: event.execId, pid: event.pid };
    case 'exec-added':
      return { type: 'RecordExecAdded', execId: event.execId };
    case 'exit':
      return { type: 'RecordExited', id: event.id, pid: event.pid, exitStatus: event.exitStatus, exitedAt: event.exitedAt };
    case 'delete':
      return { type: 'RecordDeleted', pid: event.pid, exitStatus: event.exitStatus, exitedAt: event.exitedAt };
    case 'paused':
      return { type: 'RecordPaused' };
    case 'resumed':
      return { type: 'RecordResumed' };
    case 'oom':
      return { type: 'RecordOOM' };
  }
}

async function processState(task: RuntimeTask, execId?: string): Promise<ProcessState> {
  try {
    // the runtime bounds State by io.containerd.timeout.task.state
    return await task.state(execId);
  } catch (err) {
    const status = asStatus(err);
    if (status.code === Code.NotFound) throw status;
    return { id: execId ?? task.id, pid: 0, status: 'unknown', stdin: '', stdout: '', stderr: '', terminal: false, exitStatus: 0, exitedAt: 0n };
  }
}

/** A shim's error keeps its status code and message (containerd's errdefs round trip); anything else is Unknown. */
function asStatus(err: unknown): StatusError {
  if (err instanceof StatusError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  return new StatusError(typeof code === 'number' && code > 0 && code <= 16 ? code : Code.Unknown, message);
}

async function shimCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    // our own classified errors (NotFound container, AlreadyExists...) pass as they are
    if (err instanceof LedgerError) throw err;
    throw asStatus(err);
  }
}
