import { newEvent, taskStream } from '../events/index.js';
import { containerOf, taskOf, tasksIn, type ContainersState, type ProcessRecord, type ProjectionRunner, type TasksState } from '../projections/index.js';
import type { AnyMessage, ExitResult, ProcessInfo, ProcessState, RootfsMount, RuntimeTask, TaskRuntime } from '../shims/runtime/task-runtime.js';
import { alreadyExists, invalidArgument, LedgerError, notImplemented, StatusError } from '../util/errdefs.js';
import { Code } from '../util/grpc-codes.js';
import { validateIdentifier } from '../util/identifiers.js';
import type { CommandContext } from './context.js';
import { existingContainer } from './containers.js';
import { TaskRecorder } from './task-recorder.js';


/** containerd's io.containerd.timeout.task.state: a task whose shim does not answer shows as UNKNOWN. */
const STATE_TIMEOUT_MS = 2_000;

export interface TaskCommandOptions {
  readonly warn?: (message: string) => void;
  /** How long a command waits for the shim's own report (/tasks/create, /tasks/delete) before recording it itself. */
  readonly reportGraceMs?: number;
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
 * shims, which own the processes; what the shims report (and what the daemon finds out about
 * dead shims) is recorded as task events, the log's account of every process and its exit.
 * Every call names a container that must exist, then its task: containerd's two NotFounds.
 */
export class TaskCommands {
  private readonly recorder: TaskRecorder;
  private readonly unsubscribe: (() => void)[] = [];
  /** Creates in flight (`ns/id` -> runtime name): a second create of the same task is refused at once. */
  private readonly creating = new Map<string, string>();
  private readonly reportGraceMs: number;

  constructor(
    ctx: CommandContext,
    view: ProjectionRunner<TasksState>,
    private readonly containers: ProjectionRunner<ContainersState>,
    private readonly runtime: TaskRuntime,
    options: TaskCommandOptions = {},
  ) {
    this.reportGraceMs = options.reportGraceMs ?? 2_000;
    const runtimeOf = (ns: string, id: string) =>
      this.creating.get(`${ns}/${id}`) ?? runtime.get(ns, id)?.runtime ?? containerOf(this.containers.state, ns, id)?.runtime.name ?? '';
    const isCurrent = (ns: string, id: string, pid: number) => this.creating.has(`${ns}/${id}`) || runtime.get(ns, id)?.pid === pid;
    this.recorder = new TaskRecorder(ctx, view, runtimeOf, isCurrent, options.warn ?? (() => {}));
    this.unsubscribe.push(
      runtime.onEvent((event) => void this.recorder.shimEvent(event)),
      runtime.onDeath((dead) => void this.recorder.death(dead)),
    );
  }

  /** The tasks read model: what the log says about every task. */
  get recorded(): TasksState {
    return this.recorder.state;
  }

  async create(namespace: string, request: CreateTask): Promise<{ pid: number }> {
    const container = existingContainer(this.containers.state, namespace, request.containerId);
    if (request.checkpoint) throw notImplemented(`task ${container.id}: restoring from a checkpoint is not supported by ledgerd (no CRIU support)`);
    const key = `${namespace}/${container.id}`;
    if (this.runtime.get(namespace, container.id) || this.creating.has(key)) throw alreadyExists(`task ${container.id}`);
    const runtimeName = request.runtimePath || container.runtime.name;
    this.creating.set(key, runtimeName);
    try {
      const task = await shimCall(() =>
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
      await this.ensureCreatedRecorded(namespace, task, request);
      return { pid: task.pid };
    } catch (err) {
      await this.closeFailedCreate(namespace, container.id);
      throw err;
    } finally {
      this.creating.delete(key);
    }
  }

  async start(namespace: string, id: string, execId = ''): Promise<{ pid: number }> {
    return shimCall(() => this.task(namespace, id).start(execId || undefined));
  }

  /** The task: its init process, shim and bundle go. A running task is refused by its shim. */
  async delete(namespace: string, id: string): Promise<ExitResult> {
    const task = this.task(namespace, id);
    const pid = task.pid;
    let result: ExitResult;
    try {
      result = await task.delete();
    } catch (err) {
      const status = asStatus(err);
      throw new StatusError(status.code, status.message.startsWith('failed to delete task') ? status.message : `failed to delete task: ${status.message}`);
    }
    await this.ensureDeletedRecorded(namespace, id, pid, result);
    return result;
  }

  /** One exec process (stopped or never started); containerd publishes nothing, the log records it. */
  async deleteProcess(namespace: string, id: string, execId: string): Promise<ExitResult> {
    const task = this.task(namespace, id);
    if (!execId) throw invalidArgument('exec id cannot be empty: DeleteProcess deletes exec processes, Delete deletes the task');
    const result = await shimCall(() => task.delete(execId));
    await this.recorder.record(namespace, () =>
      taskOf(this.recorded, namespace, id)?.execs[execId]
        ? [newEvent('TaskExecDeleted', namespace, taskStream(id), { containerId: id, execId, pid: result.pid, exitStatus: result.exitStatus, exitedAt: BigInt(result.exitedAt) }, { source: 'daemon' })]
        : [],
    );
    return result;
  }

  /** containerd's getProcessState: NotFound is an error, any other failure shows as status UNKNOWN. */
  async state(namespace: string, id: string, execId = ''): Promise<ProcessState> {
    const task = this.task(namespace, id);
    return processState(task, execId || undefined);
  }

  /** The namespace's tasks with their init process; a task that vanished meanwhile is left out. */
  async list(namespace: string): Promise<ProcessState[]> {
    const states = await Promise.all(this.runtime.list(namespace).map((task) => processState(task).catch(() => undefined)));
    return states.filter((s): s is ProcessState => s !== undefined);
  }

  kill(namespace: string, id: string, signal: number, execId: string, all: boolean): Promise<void> {
    return shimCall(() => this.task(namespace, id).kill(signal, { execId: execId || undefined, all }));
  }

  async exec(namespace: string, id: string, process: ExecProcess): Promise<void> {
    if (!process.execId) throw new StatusError(Code.InvalidArgument, 'exec id cannot be empty');
    const task = this.task(namespace, id);
    try {
      validateIdentifier(process.execId);
    } catch (err) {
      throw invalidArgument(`invalid exec id ${process.execId}: ${(err as Error).message}`);
    }
    if (!process.spec) throw invalidArgument(`exec ${process.execId}: spec must be set (a runtime-spec Process)`);
    const spec = process.spec;
    await shimCall(() => task.exec({ ...process, spec }));
  }

  resizePty(namespace: string, id: string, execId: string, width: number, height: number): Promise<void> {
    return shimCall(() => this.task(namespace, id).resizePty(width, height, execId || undefined));
  }

  async closeIO(namespace: string, id: string, execId: string, stdin: boolean): Promise<void> {
    const task = this.task(namespace, id);
    if (stdin) await shimCall(() => task.closeIO(execId || undefined));
  }

  pause(namespace: string, id: string): Promise<void> {
    return shimCall(() => this.task(namespace, id).pause());
  }

  resume(namespace: string, id: string): Promise<void> {
    return shimCall(() => this.task(namespace, id).resume());
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
    await this.recorder.settled();
    const recorded = this.recordedProcess(namespace, id, execId);
    if (recorded?.status === 'stopped') return { pid: recorded.pid, exitStatus: recorded.exitStatus, exitedAt: BigInt(recorded.exitedAt) };
    return shimCall(() => task.wait(execId || undefined));
  }

  /** Every task of every namespace that has tasks or containers, for Metrics (which filters by id and namespace). */
  allTasks(): RuntimeTask[] {
    const namespaces = new Set([...Object.keys(this.recorded.live), ...Object.keys(this.containers.state.live)]);
    return [...namespaces].sort().flatMap((ns) => this.runtime.list(ns));
  }

  checkpoint(namespace: string, id: string): never {
    this.task(namespace, id);
    throw notImplemented(`checkpoint of task ${id}: ledgerd does not checkpoint tasks (no CRIU support)`);
  }

  /**
   * After a restart (DESIGN.md, recovery): reconnect the shims the state directory names, let the
   * runtime clean up and report the dead ones, and record exits that happened while the daemon was
   * down. Tasks the log has but no shim runs any more are recorded as exited and deleted.
   */
  async reconcile(): Promise<string[]> {
    const lines: string[] = [];
    const live = await this.runtime.load((ns, id) => containerOf(this.containers.state, ns, id)?.runtime.name);
    await this.recorder.settled();
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
        const exited = { containerId: task.id, id: process.id, pid: state.pid, exitStatus: state.exitStatus, exitedAt: state.exitedAt, reason: 'exited while the daemon was down' };
        await this.recorder.record(task.namespace, () => [newEvent('TaskExited', task.namespace, taskStream(task.id), exited, { source: 'daemon', actor: 'reconciler', reason: exited.reason })]);
      }
    }
    for (const ns of Object.keys(this.recorded.live)) {
      for (const task of tasksIn(this.recorded, ns)) {
        if (running.has(`${ns}/${task.containerId}`)) continue;
        lines.push(`task ${ns}/${task.containerId}: no shim any more, recorded as exited and deleted`);
        const stopped = task.init.status === 'stopped';
        await this.recorder.death({
          namespace: ns,
          id: task.containerId,
          pid: task.init.pid,
          exitStatus: stopped ? task.init.exitStatus : 255,
          exitedAt: stopped ? BigInt(task.init.exitedAt) : BigInt(Date.now()) * 1_000_000n,
          reason: 'shim gone after a restart',
        });
      }
    }
    return lines;
  }

  close(): void {
    this.unsubscribe.forEach((off) => off());
  }

  /** Resolves when every shim report received so far is in the log and the read model. */
  settled(): Promise<void> {
    return this.recorder.settled();
  }

  /** containerd's getTask: the container first, then its task in the runtime. */
  private task(namespace: string, id: string): RuntimeTask {
    existingContainer(this.containers.state, namespace, id);
    const task = this.runtime.get(namespace, id);
    if (!task) throw new StatusError(Code.NotFound, `task ${id} not found`);
    return task;
  }

  private recordedProcess(namespace: string, id: string, execId: string): ProcessRecord | undefined {
    const task = taskOf(this.recorded, namespace, id);
    return execId ? task?.execs[execId] : task?.init;
  }

  /** The shim reports /tasks/create itself; if that report does not arrive, the daemon records what it knows. */
  private async ensureCreatedRecorded(namespace: string, task: RuntimeTask, request: CreateTask): Promise<void> {
    const recorded = () => taskOf(this.recorded, namespace, task.id)?.init.pid === task.pid;
    if (await this.recorder.until(recorded, this.reportGraceMs)) return;
    const payload = {
      containerId: task.id,
      bundle: task.bundle,
      rootfs: request.rootfs.map((m) => ({ type: m.type, source: m.source, target: m.target ?? '', options: [...m.options] })),
      io: { stdin: request.stdin, stdout: request.stdout, stderr: request.stderr, terminal: request.terminal },
      checkpoint: request.checkpoint ?? '',
      pid: task.pid,
      runtime: task.runtime,
    };
    const meta = { source: 'daemon', reason: 'the shim did not report /tasks/create' };
    await this.recorder.record(namespace, () => (recorded() ? [] : [newEvent('TaskCreated', namespace, taskStream(task.id), payload, meta)]));
  }

  /** A create that failed after its shim reported /tasks/create leaves no task behind in the log either. */
  private async closeFailedCreate(namespace: string, id: string): Promise<void> {
    await this.recorder.settled();
    const orphan = () => (!this.runtime.get(namespace, id) ? taskOf(this.recorded, namespace, id) : undefined);
    const meta = { source: 'daemon', reason: 'task create failed' };
    await this.recorder.record(namespace, () => {
      const task = orphan();
      return task ? [newEvent('TaskDeleted', namespace, taskStream(id), { containerId: id, pid: task.init.pid, exitStatus: 0, exitedAt: 0n, reason: meta.reason }, meta)] : [];
    });
  }

  /** Likewise for /tasks/delete: the log must not keep a task the runtime no longer has. */
  private async ensureDeletedRecorded(namespace: string, id: string, pid: number, result: ExitResult): Promise<void> {
    const open = () => taskOf(this.recorded, namespace, id)?.init.pid === pid;
    if (await this.recorder.until(() => !open(), this.reportGraceMs)) return;
    const payload = { containerId: id, pid: result.pid, exitStatus: result.exitStatus, exitedAt: BigInt(result.exitedAt) };
    const meta = { source: 'daemon', reason: 'the shim did not report /tasks/delete' };
    await this.recorder.record(namespace, () => (open() ? [newEvent('TaskDeleted', namespace, taskStream(id), payload, meta)] : []));
  }
}

async function processState(task: RuntimeTask, execId?: string): Promise<ProcessState> {
  try {
    return await withTimeout(task.state(execId), STATE_TIMEOUT_MS, `state of ${execId ?? task.id}`);
  } catch (err) {
    const status = asStatus(err);
    if (status.code === Code.NotFound) throw status;
    return { id: execId ?? task.id, pid: 0, status: 'unknown', stdin: '', stdout: '', stderr: '', terminal: false, exitStatus: 0, exitedAt: 0n };
  }
}

function withTimeout<T>(call: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StatusError(Code.DeadlineExceeded, `${what}: context deadline exceeded`)), ms);
  });
  return Promise.race([call, timeout]).finally(() => clearTimeout(timer));
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
