// containerd.task.v2.Task for the containers of one shim (containerd's runtime/v2/runc/task/service.go):
// decodes each request, drives the containers, publishes the task events, encodes the answer.
import { alreadyExists, invalidArgument, notFound } from '../../util/errdefs.js';
import { decode, encode, packAny, timestampFromNs, type AnyValue, type Message, type MessageType } from '../wire/protocol/protowire.js';
import * as ev from '../wire/protocol/events.js';
import * as api from '../wire/protocol/task.js';
import type { Container } from './container.js';
import { log } from './log.js';
import type { OomWatcher } from './oom.js';
import type { ShimProcess } from './process.js';
import type { Exit, Reaper } from './reaper.js';

export interface EventSink {
  publish(topic: string, type: MessageType, event: Message): void;
}

export type Handler = (payload: Uint8Array) => Promise<Uint8Array>;

const STATUS: Record<string, number> = { created: api.Status.CREATED, running: api.Status.RUNNING, stopped: api.Status.STOPPED, paused: api.Status.PAUSED, pausing: api.Status.PAUSING };
const EMPTY = new Uint8Array(0);

export class TaskService {
  private readonly containers = new Map<string, Container>();
  /** Made on the first Start: the shim serves Connect before it loads what containers need. */
  private oom: OomWatcher | undefined;
  private readonly deferredExits = new Map<Container, Array<[ShimProcess, Exit]>>();
  /** Ids whose Create is under way: creates of other containers run meanwhile. */
  private readonly creating = new Set<string>();
  /**
   * Containers promised to this shim whose Create has not come yet (a warm shim packs tasks,
   * warm.ts): they count as served, so a Shutdown for another container does not end the shim
   * under them. A promise lapses after `expect`'s time.
   */
  private readonly expected = new Map<string, NodeJS.Timeout>();
  private ending = false;

  /**
   * `shutdown`: called once nothing is left to serve after a Shutdown; `onSizeChange`: the
   * number of containers served (and expected) each time it changes.
   */
  constructor(
    private readonly namespace: string,
    private readonly reaper: Reaper,
    private readonly events: EventSink,
    private readonly shutdown: () => void,
    private readonly onSizeChange: (size: number) => void = () => {},
  ) {
  }

  /** Containers created and not yet deleted. */
  get created(): number {
    return this.containers.size;
  }

  /** Creates under way: each may yet give the shim a container. */
  get creatingCount(): number {
    return this.creating.size;
  }

  /** Containers served and expected. */
  get size(): number {
    return this.containers.size + this.expected.size;
  }

  /** Counts `id` as served for up to `ms`, until its Create comes; false when the shim is ending. */
  expect(id: string, ms: number): boolean {
    if (this.ending) return false;
    clearTimeout(this.expected.get(id));
    const lapse = setTimeout(() => {
      this.expected.delete(id);
      this.sizeChanged();
      this.endIfIdle();
    }, ms);
    this.expected.set(id, lapse);
    this.sizeChanged();
    return true;
  }

  private unexpect(id: string): void {
    if (!this.expected.has(id)) return;
    clearTimeout(this.expected.get(id));
    this.expected.delete(id);
    this.sizeChanged();
  }

  /** Nothing left to serve: the shim ends (decided now, so that no container is promised to it after). */
  private endIfIdle(): void {
    if (this.size > 0 || this.ending) return;
    this.ending = true;
    setImmediate(this.shutdown);
  }

  private sizeChanged(): void {
    this.onSizeChange(this.size);
  }

  /** Before the shim exits: no more OOM watching (its wait runs on a koffi worker thread). */
  close(): void {
    for (const lapse of this.expected.values()) clearTimeout(lapse);
    this.expected.clear();
    this.oom?.close();
  }

  /** The ttrpc handlers of containerd.task.v2.Task, by method name. */
  handlers(): Record<string, Handler> {
    const h = <Req>(type: MessageType, fn: (req: Req) => Promise<Uint8Array>): Handler => async (payload) => fn(decode<Req>(type, payload));
    return {
      State: h(api.ProcessRequest, (r: { id: string; exec_id: string }) => this.state(r.id, r.exec_id)),
      Create: h(api.CreateTaskRequest, (r: api.CreateTaskRequestValue) => this.create(r)),
      Start: h(api.ProcessRequest, (r: { id: string; exec_id: string }) => this.start(r.id, r.exec_id)),
      Delete: h(api.ProcessRequest, (r: { id: string; exec_id: string }) => this.delete(r.id, r.exec_id)),
      Pids: h(api.IdRequest, (r: { id: string }) => this.pids(r.id)),
      Pause: h(api.IdRequest, (r: { id: string }) => this.pause(r.id)),
      Resume: h(api.IdRequest, (r: { id: string }) => this.resume(r.id)),
      Checkpoint: h(api.CheckpointTaskRequest, (r: { id: string; path: string; options?: AnyValue }) => this.checkpoint(r.id, r.path, r.options)),
      Kill: h(api.KillRequest, (r: { id: string; exec_id: string; signal: number; all: boolean }) => this.kill(r)),
      Exec: h(api.ExecProcessRequest, (r: api.ExecProcessRequestValue) => this.exec(r)),
      ResizePty: h(api.ResizePtyRequest, async (r: { id: string; exec_id: string; width: number; height: number }) => {
        this.container(r.id).process(r.exec_id).resize(r.width, r.height);
        return EMPTY;
      }),
      CloseIO: h(api.CloseIORequest, async (r: { id: string; exec_id: string; stdin: boolean }) => {
        const p = this.container(r.id).process(r.exec_id);
        if (r.stdin) p.closeStdin();
        return EMPTY;
      }),
      Update: h(api.UpdateTaskRequest, (r: { id: string; resources?: AnyValue }) => this.update(r.id, r.resources)),
      Wait: h(api.ProcessRequest, (r: { id: string; exec_id: string }) => this.wait(r.id, r.exec_id)),
      Stats: h(api.IdRequest, (r: { id: string }) => this.stats(r.id)),
      Connect: h(api.IdRequest, async (r: { id: string }) =>
        encode(api.ConnectResponse, { shim_pid: process.pid, task_pid: this.containers.get(r.id)?.init.pid ?? 0 }),
      ),
      Shutdown: h(api.ShutdownRequest, async (r: { id: string }) => {
        // the daemon is done with this id: a Create still promised for it will not come
        this.unexpect(r.id);
        // a shim that still serves containers stays (Shutdown is sent after every task Delete)
        this.endIfIdle();
        return EMPTY;
      }),
    };
  }

  private async oomWatcher(): Promise<OomWatcher> {
    if (!this.oom) {
      const { OomWatcher } = await import('./oom.js');
      this.oom ??= new OomWatcher((id) => this.events.publish('/tasks/oom', ev.TaskOOM, { container_id: id }), log.warn);
    }
    return this.oom;
  }

  private container(id: string): Container {
    const container = this.containers.get(id);
    if (!container) throw notFound('container not created');
    return container;
  }

  private async state(id: string, execId: string): Promise<Uint8Array> {
    const container = this.container(id);
    const p = container.process(execId);
    return encode(api.StateResponse, {
      id: p.id,
      bundle: container.bundle,
      pid: p.pid,
      status: STATUS[p.status()] ?? api.Status.UNKNOWN,
      stdin: p.stdio.stdin,
      stdout: p.stdio.stdout,
      stderr: p.stdio.stderr,
      terminal: p.stdio.terminal,
      exit_status: p.exitStatus,
      exited_at: timestampFromNs(p.exitedAt),
    });
  }

  private async create(request: api.CreateTaskRequestValue): Promise<Uint8Array> {
    if (!request.id) throw invalidArgument('id must not be empty');
    if (this.containers.has(request.id) || this.creating.has(request.id)) throw alreadyExists(`container ${request.id}`);
    this.creating.add(request.id);
    const release = this.reaper.holdOrphans();
    try {
      const { Container } = await import('./container.js');
      const container = await Container.create(this.namespace, request);
      this.containers.set(container.id, container);
      this.reaper.watch(container.init.pid, (exit) => this.onExit(container, container.init, exit));
      this.events.publish('/tasks/create', ev.TaskCreate, {
        container_id: request.id,
        bundle: request.bundle,
        rootfs: request.rootfs,
        io: { stdin: request.stdin, stdout: request.stdout, stderr: request.stderr, terminal: request.terminal },
        checkpoint: request.checkpoint,
        pid: container.init.pid,
      });
      return encode(api.CreateTaskResponse, { pid: container.init.pid });
    } finally {
      this.creating.delete(request.id);
      clearTimeout(this.expected.get(request.id));
      this.expected.delete(request.id);
      this.sizeChanged();
      release();
    }
  }

  private async start(id: string, execId: string): Promise<Uint8Array> {
    const container = this.container(id);
    if (!execId) {
      container.starting = true;
      try {
        // watched before it runs (containerd adds it after start): a fast OOM is not missed
        if (container.cgroup) (await this.oomWatcher()).add(container.id, container.cgroup);
        await container.init.start().catch((err: unknown) => {
          this.oom?.remove(container.id);
          throw err;
        });
        this.events.publish('/tasks/start', ev.TaskStart, { container_id: id, pid: container.init.pid });
      } finally {
        container.starting = false;
        this.flushDeferredExits(container);
      }
      return encode(api.StartResponse, { pid: container.init.pid });
    }
    const exec = container.exec(execId);
    const release = this.reaper.holdOrphans();
    try {
      await exec.start();
      this.events.publish('/tasks/exec-started', ev.TaskExecStarted, { container_id: id, exec_id: execId, pid: exec.pid });
      this.reaper.watch(exec.pid, (exit) => this.onExit(container, exec, exit));
    } finally {
      release();
    }
    return encode(api.StartResponse, { pid: exec.pid });
  }

  private onExit(container: Container, p: ShimProcess, exit: Exit): void {
    if (container.starting && p === container.init) {
      const pending = this.deferredExits.get(container) ?? [];
      pending.push([p, exit]);
      this.deferredExits.set(container, pending);
      return;
    }
    if (p === container.init && container.killAllOnExit) {
      container.init.killAll().catch((err: Error) => log.error(`failed to kill init's children: ${err.message}`));
    }
    if (p === container.init) this.oom?.remove(container.id);
    p.setExited(exit, () =>
      this.events.publish('/tasks/exit', ev.TaskExit, {
        container_id: container.id,
        id: p.id,
        pid: exit.pid,
        exit_status: exit.status,
        exited_at: timestampFromNs(exit.exitedAt),
      }),
    );
  }

  private flushDeferredExits(container: Container): void {
    const pending = this.deferredExits.get(container);
    this.deferredExits.delete(container);
    for (const [p, exit] of pending ?? []) this.onExit(container, p, exit);
  }

  private async delete(id: string, execId: string): Promise<Uint8Array> {
    const container = this.container(id);
    let p: ShimProcess;
    if (execId) {
      p = await container.deleteExec(execId);
    } else {
      await container.delete();
      p = container.init;
      this.containers.delete(id);
      this.sizeChanged();
      this.reaper.unwatch(p.pid);
      this.oom?.remove(id);
      this.events.publish('/tasks/delete', ev.TaskDelete, {
        container_id: id,
        pid: p.pid,
        exit_status: p.exitStatus,
        exited_at: timestampFromNs(p.exitedAt),
      });
    }
    return encode(api.DeleteResponse, { pid: p.pid, exit_status: p.exitStatus, exited_at: timestampFromNs(p.exitedAt) });
  }

  private async pids(id: string): Promise<Uint8Array> {
    const container = this.container(id);
    const pids = await container.init.runc.ps(id);
    const processes = pids.map((pid) => {
      const exec = [...container.execs.values()].find((e) => e.pid === pid);
      return { pid, info: exec ? packAny(api.ProcessDetails, { exec_id: exec.id }) : undefined };
    });
    return encode(api.PidsResponse, { processes });
  }

  private async pause(id: string): Promise<Uint8Array> {
    const container = this.container(id);
    await container.init.pause();
    this.events.publish('/tasks/paused', ev.TaskPaused, { container_id: id });
    return EMPTY;
  }

  private async resume(id: string): Promise<Uint8Array> {
    const container = this.container(id);
    await container.init.resume();
    this.events.publish('/tasks/resumed', ev.TaskResumed, { container_id: id });
    return EMPTY;
  }

  private async checkpoint(id: string, path: string, options: AnyValue | undefined): Promise<Uint8Array> {
    const container = this.container(id);
    const opts = decode<{ exit: boolean; open_tcp: boolean; external_unix_sockets: boolean; terminal: boolean; file_locks: boolean; empty_namespaces: string[]; cgroups_mode: string; image_path: string; work_path: string }>(
      api.CheckpointOptions,
      options && options.type_url.endsWith('containerd.runc.v1.CheckpointOptions') ? options.value : EMPTY,
    );
    const flags: string[] = [];
    if (opts.open_tcp) flags.push('--tcp-established');
    if (opts.external_unix_sockets) flags.push('--ext-unix-sk');
    if (opts.terminal) flags.push('--shell-job');
    if (opts.file_locks) flags.push('--file-locks');
    for (const ns of opts.empty_namespaces) flags.push('--empty-ns', ns);
    if (opts.cgroups_mode) flags.push('--manage-cgroups-mode', opts.cgroups_mode);
    const imagePath = opts.image_path || path;
    if (!imagePath) throw invalidArgument('path: a checkpoint needs an image path');
    await container.init.checkpoint(imagePath, opts.work_path || container.init.config.criuWorkPath, !opts.exit, flags);
    return EMPTY;
  }

  private async kill(r: { id: string; exec_id: string; signal: number; all: boolean }): Promise<Uint8Array> {
    const container = this.container(r.id);
    if (r.exec_id) container.exec(r.exec_id).kill(r.signal);
    else await container.init.kill(r.signal, r.all);
    return EMPTY;
  }

  private async exec(r: api.ExecProcessRequestValue): Promise<Uint8Array> {
    const container = this.container(r.id);
    if (!r.exec_id) throw invalidArgument('exec id cannot be empty');
    let spec: Record<string, unknown>;
    try {
      spec = JSON.parse(Buffer.from(r.spec?.value ?? EMPTY).toString('utf8')) as Record<string, unknown>;
    } catch (err) {
      throw invalidArgument(`spec: not a runtime-spec Process in JSON: ${(err as Error).message}`);
    }
    container.addExec(r.exec_id, { stdin: r.stdin, stdout: r.stdout, stderr: r.stderr, terminal: r.terminal }, spec);
    this.events.publish('/tasks/exec-added', ev.TaskExecAdded, { container_id: r.id, exec_id: r.exec_id });
    return EMPTY;
  }

  private async update(id: string, resources: AnyValue | undefined): Promise<Uint8Array> {
    const container = this.container(id);
    if (!resources) throw invalidArgument('resources must be set');
    await container.init.update(Buffer.from(resources.value).toString('utf8'));
    return EMPTY;
  }

  private async wait(id: string, execId: string): Promise<Uint8Array> {
    const p = this.container(id).process(execId);
    await p.wait();
    return encode(api.WaitResponse, { exit_status: p.exitStatus, exited_at: timestampFromNs(p.exitedAt) });
  }

  private async stats(id: string): Promise<Uint8Array> {
    const container = this.container(id);
    if (!container.cgroup) throw notFound('cgroup does not exist');
    const { statsAny } = await import('./cgroups.js');
    return encode(api.StatsResponse, { stats: statsAny(container.cgroup) });
  }
}
