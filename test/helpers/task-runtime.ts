// A TaskRuntime for command-layer tests that behaves as containerd-shim-runc-v2 does, observably:
// the same process states and refusals (status codes and messages of pkg/process/*_state.go and
// runtime/v2/runc), and the same /tasks/* reports in the same order, delivered asynchronously as a
// shim's forwarded events are. Processes "run" until the test ends them (exit, kill) or the
// shim "dies" (crash).
import { TtrpcError, Code } from '../../src/shims/wire/ttrpc/index.js';
import type {
  AnyMessage,
  CreateTaskRequest,
  DeadTask,
  ExecRequest,
  ExitResult,
  ProcessInfo,
  ProcessState,
  ProcessStatus,
  RuntimeTask,
  ShimEvent,
  TaskRuntime,
  TimestampedShimEvent,
} from '../../src/shims/runtime/task-runtime.js';

const now = () => BigInt(Date.now()) * 1_000_000n;
const unknown = (message: string) => new TtrpcError(Code.Unknown, message);

let nextPid = 40_000;

class FakeProcess {
  status: ProcessStatus = 'created';
  pid = 0;
  exitStatus = 0;
  exitedAt = 0n;
  private readonly exited: Promise<ExitResult>;
  private settle!: (result: ExitResult) => void;

  constructor(
    readonly id: string,
    readonly stdio: { stdin: string; stdout: string; stderr: string; terminal: boolean },
  ) {
    this.exited = new Promise((resolve) => (this.settle = resolve));
  }

  exit(status: number): void {
    this.status = 'stopped';
    this.exitStatus = status;
    this.exitedAt = now();
    this.settle({ pid: this.pid, exitStatus: status, exitedAt: this.exitedAt });
  }

  wait(): Promise<ExitResult> {
    return this.exited;
  }

  state(): ProcessState {
    return { id: this.id, pid: this.pid, status: this.status, exitStatus: this.exitStatus, exitedAt: this.exitedAt, ...this.stdio };
  }
}

export class FakeTask implements RuntimeTask {
  readonly init: FakeProcess;
  readonly execs = new Map<string, FakeProcess>();
  readonly calls: string[] = [];
  deleted = false;

  constructor(
    private readonly shim: InMemoryTaskRuntime,
    readonly namespace: string,
    readonly id: string,
    readonly runtime: string,
    request: CreateTaskRequest,
  ) {
    this.init = new FakeProcess(id, { stdin: request.stdin, stdout: request.stdout, stderr: request.stderr, terminal: request.terminal });
    this.init.pid = nextPid++;
  }

  get bundle(): string {
    return `/run/fake/${this.namespace}/${this.id}`;
  }

  get pid(): number {
    return this.init.pid;
  }

  private process(execId?: string): FakeProcess {
    if (this.deleted) throw new TtrpcError(Code.NotFound, `container ${this.id}: not found`);
    if (!execId) return this.init;
    const exec = this.execs.get(execId);
    if (!exec) throw new TtrpcError(Code.NotFound, `process does not exist ${execId}: not found`);
    return exec;
  }

  private emit(event: ShimEvent): void {
    this.shim.emit(event);
  }

  private base() {
    return { namespace: this.namespace, containerId: this.id };
  }

  async start(execId?: string): Promise<{ pid: number }> {
    this.calls.push(`start ${execId ?? ''}`);
    const p = this.process(execId);
    if (p.status === 'running') throw unknown('cannot start a running process');
    if (p.status === 'stopped') throw unknown('cannot start a stopped process');
    if (p.status === 'paused') throw unknown('cannot start a paused process');
    if (execId) p.pid = nextPid++;
    p.status = 'running';
    this.emit(execId ? { kind: 'exec-started', ...this.base(), execId, pid: p.pid } : { kind: 'start', ...this.base(), pid: p.pid });
    return { pid: p.pid };
  }

  async state(execId?: string): Promise<ProcessState> {
    return this.process(execId).state();
  }

  async kill(signal: number, options: { execId?: string; all?: boolean } = {}): Promise<void> {
    this.calls.push(`kill ${signal} ${options.execId ?? ''}${options.all ? ' all' : ''}`);
    const p = this.process(options.execId);
    if (p.status === 'stopped') throw new TtrpcError(Code.NotFound, 'process already finished: not found');
    if (signal === 0) return;
    this.end(p, 128 + signal);
  }

  /** The test's way of letting a process finish by itself. */
  end(p: FakeProcess, status: number): void {
    if (p.status === 'stopped') return;
    p.exit(status);
    this.emit({ kind: 'exit', ...this.base(), id: p.id, pid: p.pid, exitStatus: status, exitedAt: p.exitedAt });
    if (p === this.init) for (const exec of this.execs.values()) if (exec.status === 'running') this.end(exec, 137);
  }

  async exec(request: ExecRequest): Promise<void> {
    this.calls.push(`exec ${request.execId}`);
    this.process();
    if (this.execs.has(request.execId)) throw new TtrpcError(Code.AlreadyExists, `id ${request.execId}: already exists`);
    if (this.init.status !== 'running') throw unknown(`cannot exec in a ${this.init.status} state`);
    this.execs.set(request.execId, new FakeProcess(request.execId, request));
    this.emit({ kind: 'exec-added', ...this.base(), execId: request.execId });
  }

  async resizePty(width: number, height: number, execId?: string): Promise<void> {
    this.calls.push(`resize ${width}x${height} ${execId ?? ''}`);
    this.process(execId);
  }

  async closeIO(execId?: string): Promise<void> {
    this.calls.push(`closeio ${execId ?? ''}`);
    this.process(execId);
  }

  async pause(): Promise<void> {
    this.calls.push('pause');
    const s = this.process().status;
    if (s === 'created') throw unknown('cannot pause task in created state');
    if (s === 'paused') throw unknown('cannot pause a paused container');
    if (s === 'stopped') throw unknown('cannot pause a stopped container');
    this.init.status = 'paused';
    this.emit({ kind: 'paused', ...this.base() });
  }

  async resume(): Promise<void> {
    this.calls.push('resume');
    const s = this.process().status;
    if (s === 'created') throw unknown('cannot resume task in created state');
    if (s === 'running') throw unknown('cannot resume a running process');
    if (s === 'stopped') throw unknown('cannot resume a stopped container');
    this.init.status = 'running';
    this.emit({ kind: 'resumed', ...this.base() });
  }

  async pids(): Promise<ProcessInfo[]> {
    this.process();
    const running = [...this.execs.values()].filter((e) => e.status === 'running');
    return [
      { pid: this.init.pid },
      ...running.map((e) => ({ pid: e.pid, info: { typeUrl: 'containerd.runc.v1.ProcessDetails', value: Buffer.concat([Buffer.from([0x0a, e.id.length]), Buffer.from(e.id)]) } })),
    ];
  }

  async update(): Promise<void> {
    this.calls.push('update');
    if (this.process().status === 'stopped') throw unknown('cannot update a stopped container');
  }

  async stats() {
    this.process();
    return this.shim.stats;
  }

  async checkpoint(): Promise<void> {
    throw unknown('checkpoint not supported by the fake shim');
  }

  wait(execId?: string): Promise<ExitResult> {
    try {
      return this.process(execId).wait();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async delete(execId?: string, whenDeleted?: (result: ExitResult) => Promise<void>): Promise<ExitResult> {
    const result = await this.deleteProcess(execId);
    await whenDeleted?.(result);
    return result;
  }

  private async deleteProcess(execId?: string): Promise<ExitResult> {
    this.calls.push(`delete ${execId ?? ''}`);
    const p = this.process(execId);
    if (p.status === 'running') throw unknown('cannot delete a running process');
    if (p.status === 'paused') throw unknown('cannot delete a paused process');
    const result = { pid: p.pid, exitStatus: p.exitStatus, exitedAt: p.exitedAt };
    if (execId) {
      this.execs.delete(execId);
      return result;
    }
    this.deleted = true;
    this.emit({ kind: 'delete', ...this.base(), ...result });
    this.shim.forget(this);
    return result;
  }
}

export interface FakeRuntimeOptions {
  /** Reports from the shim arrive this long after the fact (they are asynchronous in real shims too). */
  readonly eventDelayMs?: number;
  /** Drop these report kinds, as a shim whose publisher failed would. */
  readonly lose?: readonly ShimEvent['kind'][];
}

export class InMemoryTaskRuntime implements TaskRuntime {
  readonly tasks = new Map<string, FakeTask>();
  readonly created: CreateTaskRequest[] = [];
  private readonly eventHandlers = new Set<(event: TimestampedShimEvent) => Promise<void> | void>();
  private readonly deathHandlers = new Set<(dead: DeadTask) => void>();
  /** Tasks `load` finds after a restart (what a state directory would hold). */
  survivors: FakeTask[] = [];
  failCreate: Error | undefined;
  /** What every task's Stats answers: io.containerd.cgroups.v1.Metrics{pids{current: 3}} unless a test sets it. */
  stats: AnyMessage | undefined = { typeUrl: 'io.containerd.cgroups.v1.Metrics', value: Buffer.from([0x12, 0x02, 0x08, 0x03]) };
  private inFlight: Promise<void> = Promise.resolve();

  constructor(private readonly options: FakeRuntimeOptions = {}) {}

  async create(request: CreateTaskRequest): Promise<RuntimeTask> {
    this.created.push(request);
    const key = `${request.namespace}/${request.id}`;
    if (this.tasks.has(key)) throw new TtrpcError(Code.AlreadyExists, `bundle ${request.id}: already exists`);
    const task = new FakeTask(this, request.namespace, request.id, request.runtime, request);
    await new Promise((resolve) => setImmediate(resolve));
    this.emit({
      kind: 'create',
      namespace: request.namespace,
      containerId: request.id,
      pid: task.pid,
      bundle: task.bundle,
      stdio: { stdin: request.stdin, stdout: request.stdout, stderr: request.stderr, terminal: request.terminal },
      rootfs: request.rootfs,
      checkpoint: request.checkpoint ?? '',
    });
    if (this.failCreate) {
      await this.delivered();
      throw this.failCreate;
    }
    this.tasks.set(key, task);
    return task;
  }

  get(namespace: string, id: string): RuntimeTask | undefined {
    return this.tasks.get(`${namespace}/${id}`);
  }

  task(namespace: string, id: string): FakeTask {
    const task = this.tasks.get(`${namespace}/${id}`);
    if (!task) throw new Error(`no fake task ${namespace}/${id}`);
    return task;
  }

  list(namespace: string): RuntimeTask[] {
    return [...this.tasks.values()].filter((t) => t.namespace === namespace);
  }

  onEvent(handler: (event: TimestampedShimEvent) => Promise<void> | void): () => void {
    this.eventHandlers.add(handler);
    return () => this.eventHandlers.delete(handler);
  }

  onDeath(handler: (dead: DeadTask) => void): () => void {
    this.deathHandlers.add(handler);
    return () => this.deathHandlers.delete(handler);
  }

  /** The shim of a task dies (SIGKILL): its `delete` action reports 137, as containerd-shim-runc-v2's does. */
  crash(namespace: string, id: string): void {
    const task = this.task(namespace, id);
    this.forget(task);
    task.deleted = true;
    const dead: DeadTask = { namespace, id, pid: task.pid, exitStatus: 137, exitedAt: now(), reason: 'shim disconnected' };
    const delivered = new Promise<void>((resolve) => setImmediate(() => (this.deathHandlers.forEach((h) => h(dead)), resolve())));
    this.inFlight = this.inFlight.then(() => delivered);
  }

  async load(): Promise<RuntimeTask[]> {
    for (const task of this.survivors) this.tasks.set(`${task.namespace}/${task.id}`, task);
    return [...this.survivors];
  }

  /** Tasks `discard` removed (a restart found them in no log). */
  readonly discarded: string[] = [];

  async discard(task: RuntimeTask): Promise<void> {
    this.discarded.push(`${task.namespace}/${task.id}`);
    this.forget(task as FakeTask);
    (task as FakeTask).deleted = true;
  }

  async close(): Promise<void> {}

  emit(event: ShimEvent): void {
    if (this.options.lose?.includes(event.kind)) return;
    const stamped = { ...event, timestamp: now() } as TimestampedShimEvent;
    const delivered = new Promise<void>((resolve) => {
      const deliver = () => {
        this.eventHandlers.forEach((h) => h(stamped));
        resolve();
      };
      if (this.options.eventDelayMs) setTimeout(deliver, this.options.eventDelayMs);
      else setImmediate(deliver);
    });
    this.inFlight = this.inFlight.then(() => delivered);
  }

  /** Resolves once every report emitted so far has reached the daemon's handlers. */
  delivered(): Promise<void> {
    return this.inFlight;
  }

  forget(task: FakeTask): void {
    this.tasks.delete(`${task.namespace}/${task.id}`);
  }
}
