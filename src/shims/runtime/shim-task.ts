import type { Socket } from 'node:net';
import { validateIdentifier } from '../../util/identifiers.js';
import { nsFromTimestamp, type AnyValue } from '../wire/protocol/protowire.js';
import { Status, TASK_METHODS, TASK_SERVICE, type TaskMethod } from '../wire/protocol/task.js';
import type { AnyMessage, ExecRequest, ExitResult, ProcessInfo, ProcessState, ProcessStatus, RootfsMount, RuntimeTask, Stdio } from './task-runtime.js';
import { Code, isClosedError, NAMESPACE_METADATA_KEY, TtrpcError, typedCall, type TtrpcClient } from '../wire/ttrpc/index.js';

/** containerd's [timeouts] for shims, in milliseconds. */
export interface ShimTimeouts {
  /** io.containerd.timeout.shim.load: Connect when reconnecting after a restart. */
  readonly load: number;
  /** io.containerd.timeout.shim.cleanup: the `delete` action of a dead shim. */
  readonly cleanup: number;
  /** io.containerd.timeout.shim.shutdown: Shutdown after Delete. */
  readonly shutdown: number;
  /** io.containerd.timeout.task.state: State calls. */
  readonly state: number;
}

export const DEFAULT_TIMEOUTS: ShimTimeouts = { load: 5000, cleanup: 5000, shutdown: 3000, state: 2000 };

/** What a task needs from the runtime that owns it. */
export interface TaskOwner {
  readonly timeouts: ShimTimeouts;
  /** The task is gone for good (deleted): forget it and remove its bundle. */
  released(task: ShimTask): Promise<void>;
}

const STATUS: Record<number, ProcessStatus> = {
  [Status.UNKNOWN]: 'unknown',
  [Status.CREATED]: 'created',
  [Status.RUNNING]: 'running',
  [Status.STOPPED]: 'stopped',
  [Status.PAUSED]: 'paused',
  [Status.PAUSING]: 'pausing',
};

const toAny = (any: AnyMessage | undefined): AnyValue | undefined => (any ? { type_url: any.typeUrl, value: any.value } : undefined);
const fromAny = (any: AnyValue | undefined): AnyMessage | undefined => (any?.type_url ? { typeUrl: any.type_url, value: any.value } : undefined);

const isNotFound = (err: unknown) => err instanceof TtrpcError && err.code === Code.NotFound;

/**
 * One task behind its shim connection (containerd's shimTask): every call carries the task id
 * and the namespace metadata. A shim's status comes back as the TtrpcError it sent (code and
 * message kept, as containerd's errdefs round trip keeps them).
 */
export class ShimTask implements RuntimeTask {
  pid = 0;
  private endedOnPurpose = false;
  private settleGone!: (exit: ExitResult | undefined) => void;
  /** Settles when the connection ends: the dead-shim result, or undefined when it ended on purpose. */
  readonly gone: Promise<ExitResult | undefined> = new Promise((resolve) => (this.settleGone = resolve));

  constructor(
    readonly namespace: string,
    readonly id: string,
    readonly bundle: string,
    readonly runtime: string,
    readonly client: TtrpcClient,
    readonly log: Socket | undefined,
    private readonly owner: TaskOwner,
  ) {}

  /** The connection was ended on purpose (task deleted, or the daemon stopping): no dead-shim cleanup. */
  get detached(): boolean {
    return this.endedOnPurpose;
  }

  /** Marks the connection's coming end as on purpose (see detached). */
  detach(): void {
    this.endedOnPurpose = true;
  }

  /** Called by the runtime once the connection has ended and any cleanup ran. */
  markGone(exit: ExitResult | undefined): void {
    this.log?.destroy();
    this.settleGone(exit);
  }

  async create(request: { rootfs: readonly RootfsMount[]; options?: AnyMessage; checkpoint?: string } & Stdio): Promise<void> {
    const response = await this.call('Create', {
      bundle: this.bundle,
      rootfs: request.rootfs.map((m) => ({ type: m.type, source: m.source, target: m.target ?? '', options: [...m.options] })),
      terminal: request.terminal,
      stdin: request.stdin,
      stdout: request.stdout,
      stderr: request.stderr,
      checkpoint: request.checkpoint ?? '',
      options: toAny(request.options),
    });
    this.pid = response.pid;
  }

  /** Connect: the shim's liveness check, which also tells the init pid. */
  async connect(timeoutMs: number): Promise<{ shimPid: number; taskPid: number }> {
    const response = await this.call('Connect', {}, timeoutMs);
    this.pid = response.task_pid;
    return { shimPid: response.shim_pid, taskPid: response.task_pid };
  }

  async start(execId = ''): Promise<{ pid: number }> {
    const { pid } = await this.call('Start', { exec_id: execId });
    if (!execId) this.pid = pid;
    return { pid };
  }

  async state(execId = ''): Promise<ProcessState> {
    let r;
    try {
      r = await this.call('State', { exec_id: execId }, this.owner.timeouts.state);
    } catch (err) {
      // as containerd: a shim that is gone has no such task
      if (isClosedError(err)) throw new TtrpcError(Code.NotFound, `task ${this.id}: not found`);
      throw err;
    }
    return {
      id: execId ? r.exec_id || execId : this.id,
      pid: r.pid,
      status: STATUS[r.status] ?? 'unknown',
      stdin: r.stdin,
      stdout: r.stdout,
      stderr: r.stderr,
      terminal: r.terminal,
      exitStatus: r.exit_status,
      exitedAt: nsFromTimestamp(r.exited_at),
    };
  }

  async kill(signal: number, options: { execId?: string; all?: boolean } = {}): Promise<void> {
    await this.call('Kill', { exec_id: options.execId ?? '', signal, all: options.all ?? false });
  }

  async exec(request: ExecRequest): Promise<void> {
    validateIdentifier(request.execId, 'exec id');
    await this.call('Exec', {
      exec_id: request.execId,
      terminal: request.terminal,
      stdin: request.stdin,
      stdout: request.stdout,
      stderr: request.stderr,
      spec: toAny(request.spec),
    });
  }

  async resizePty(width: number, height: number, execId = ''): Promise<void> {
    await this.call('ResizePty', { exec_id: execId, width, height });
  }

  async closeIO(execId = ''): Promise<void> {
    await this.call('CloseIO', { exec_id: execId, stdin: true });
  }

  async pause(): Promise<void> {
    await this.call('Pause', {});
  }

  async resume(): Promise<void> {
    await this.call('Resume', {});
  }

  async pids(): Promise<ProcessInfo[]> {
    const { processes } = await this.call('Pids', {});
    return (processes as { pid: number; info: AnyValue | undefined }[]).map((p) => {
      const info = fromAny(p.info);
      return info ? { pid: p.pid, info } : { pid: p.pid };
    });
  }

  async update(resources: AnyMessage | undefined, annotations: Record<string, string>): Promise<void> {
    await this.call('Update', { resources: toAny(resources), annotations });
  }

  async stats(): Promise<AnyMessage | undefined> {
    return fromAny((await this.call('Stats', {})).stats);
  }

  async checkpoint(path: string, options?: AnyMessage): Promise<void> {
    await this.call('Checkpoint', { path, options: toAny(options) });
  }

  /**
   * Waits for the process to exit. If the shim dies first, the answer is what its `delete`
   * cleanup reported (137 for a runc container killed with its shim, 255 when unknown), so a
   * waiter always learns how the task ended.
   */
  async wait(execId = ''): Promise<ExitResult> {
    try {
      const r = await this.call('Wait', { exec_id: execId });
      return { pid: execId ? 0 : this.pid, exitStatus: r.exit_status, exitedAt: nsFromTimestamp(r.exited_at) };
    } catch (err) {
      if (!isClosedError(err)) throw err;
      const dead = await this.gone;
      if (!dead) throw err;
      return { pid: execId ? 0 : dead.pid, exitStatus: dead.exitStatus, exitedAt: dead.exitedAt };
    }
  }

  /**
   * An exec: deletes that process. The init: Delete in the shim, then Shutdown (the shim exits
   * unless it serves other tasks), close the connection and remove the bundle. A shim that is
   * already gone is cleaned up as a dead shim and the delete fails with its error. `whenDeleted`
   * runs once the shim has deleted the process, alongside the shutdown and the bundle's removal,
   * and delete resolves once both are done (with its error, if it fails).
   */
  async delete(execId = '', whenDeleted?: (result: ExitResult) => Promise<void>): Promise<ExitResult> {
    if (execId) {
      const r = await this.call('Delete', { exec_id: execId });
      const result = { pid: r.pid, exitStatus: r.exit_status, exitedAt: nsFromTimestamp(r.exited_at) };
      await whenDeleted?.(result);
      return result;
    }
    let response;
    try {
      response = await this.call('Delete', {});
    } catch (err) {
      if (!isClosedError(err) && !isNotFound(err)) throw err;
      await this.shutdown();
      await this.gone;
      throw err;
    }
    const result = { pid: response.pid, exitStatus: response.exit_status, exitedAt: nsFromTimestamp(response.exited_at) };
    const alongside = Promise.resolve().then(() => whenDeleted?.(result));
    alongside.catch(() => undefined); // awaited after the cleanup, which runs whatever it says
    this.detach();
    await this.shutdown();
    await this.owner.released(this);
    await alongside;
    return result;
  }

  /** Shutdown (the shim exits unless it serves other tasks; failures ignored), then close the connection. */
  async shutdown(): Promise<void> {
    await this.call('Shutdown', {}, this.owner.timeouts.shutdown).catch(() => {});
    await this.client.close();
  }

  private call(method: TaskMethod, request: object, timeoutMs?: number): Promise<Record<string, any>> {
    return typedCall(this.client, TASK_SERVICE, method, TASK_METHODS[method], { id: this.id, ...request }, {
      timeoutMs,
      metadata: { [NAMESPACE_METADATA_KEY]: this.namespace },
    });
  }
}
