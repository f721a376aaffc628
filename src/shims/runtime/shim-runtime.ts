import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { alreadyExists, failedPrecondition, unavailable } from '../../util/errdefs.js';
import { mountPointsUnder, unmountAll } from '../../util/mount/index.js';
import { ShimBinaryResolver } from './binary-path.js';
import { LEGACY_LINUX_RUNTIME, LEGACY_LINUX_SHIM_RUNTIME, legacyLinuxOptions, type LegacyLinuxSettings } from './legacy-linux.js';
import { bundleOf, createBundle, deleteBundle, setAsideBundle, type Bundle } from './bundle.js';
import { startEventsServer } from './events-server.js';
import { openLogFifo } from '../../util/fifo.js';
import type { AnyMessage, CreateTaskRequest, DeadTask, ExitResult, RuntimeTask, TaskRuntime, TimestampedShimEvent } from './task-runtime.js';
import { runcOptions } from '../shared/runc-options.js';
import { namesGroup } from '../shared/socket-address.js';
import { runShimDelete, runShimStart, shimEnv, shimSocketPath, type ShimCommand } from './shim-binary.js';
import { DEFAULT_TIMEOUTS, ShimTask, type ShimTimeouts } from './shim-task.js';
import { isClosedError, TtrpcClient, TtrpcClosedError, type CallObserver, type TtrpcServer } from '../wire/ttrpc/index.js';
import { WarmShimPool } from './warm-shims.js';

export interface ShimRuntimeOptions {
  /** Persistent directory: work dirs at <root>/<ns>/<id> (the plugin's root). */
  readonly root: string;
  /** Volatile directory: bundles at <state>/<ns>/<id> (the plugin's state). */
  readonly state: string;
  /** The daemon's gRPC address, passed to shims as -address. */
  readonly address: string;
  /** Where the events server listens; shims get it as TTRPC_ADDRESS. Default `<address>.ttrpc`. */
  readonly ttrpcAddress?: string;
  /** -publish-binary; default the daemon's own executable. */
  readonly publishBinary?: string;
  /** Pass -debug to shims (containerd does at log level debug or trace). */
  readonly debug?: boolean;
  /** containerd's sched_core setting of this plugin. */
  readonly schedCore?: boolean;
  readonly timeouts?: Partial<ShimTimeouts>;
  /** Each line shims write to their `log` FIFO; default: the daemon's stderr, as containerd. */
  readonly shimLog?: (namespace: string, id: string, line: string) => void;
  readonly warn?: (message: string) => void;
  /** The legacy runtime's settings (legacy-linux.ts); without them its tasks are refused. */
  readonly legacyLinux?: LegacyLinuxSettings;
  /** Runtime name -> shim binary overrides (see ShimBinaryResolver). */
  readonly shimBinaries?: Readonly<Record<string, string>>;
  /** Idle warm shims kept for ledgerd's own shim (warm-shims.ts); 0: always run `start`. */
  readonly warmShims?: number;
  /** Containers one warm shim serves at most (tasks of a namespace packed together); default 1. */
  readonly tasksPerShim?: number;
  /** Watches every ttrpc call to a shim (the daemon's metrics). */
  readonly observeCalls?: CallObserver;
}

const SHIM_BINARY_PATH = 'shim-binary-path';
/** The warm shims' stderr, beside the runtime's state directory (in the daemon's, with the shims' sockets). */
export const WARM_SHIMS_STDERR = 'warm-shims.stderr';
/** Between two dials of a shim whose connection was reset at load (times the attempt number). */
const RECONNECT_PAUSE_MS = 100;
/**
 * Errors of a dial or a first call that a live shim may cause (a reset, a full backlog, a
 * connection closed before Connect was answered), as opposed to a refused dial (nobody listens)
 * or no socket at all: the next dial tells which it was.
 */
const TRANSIENT_CONNECTION_ERRORS = new Set(['ECONNRESET', 'EAGAIN', 'EPIPE']);

function isTransientConnectionError(err: unknown): boolean {
  if (isClosedError(err)) return true;
  const code = ((err as Error).cause as NodeJS.ErrnoException | undefined)?.code ?? (err as NodeJS.ErrnoException).code;
  return code !== undefined && TRANSIENT_CONNECTION_ERRORS.has(code);
}
const ADDRESS = 'address';

/**
 * ledgerd's shim v2 runtime (containerd's runtime/v2 ShimManager + TaskManager): starts shims
 * for tasks, talks to them over ttrpc, receives their events on its own ttrpc server, cleans up
 * after shims that die, and reconnects to running shims after a daemon restart.
 */
export class ShimRuntime implements TaskRuntime {
  readonly timeouts: ShimTimeouts;
  readonly ttrpcAddress: string;
  private readonly tasks = new Map<string, Map<string, ShimTask>>();
  private readonly binaries: ShimBinaryResolver;
  private readonly eventHandlers = new Set<(event: TimestampedShimEvent) => Promise<void> | void>();
  private readonly deathHandlers = new Set<(dead: DeadTask) => void>();
  private eventsServer: TtrpcServer | undefined;
  private warmShims: WarmShimPool | undefined;
  /** Dead-shim cleanups and bundle removals under way: close() lets them finish. */
  private readonly cleanups = new Set<Promise<void>>();
  private closed = false;

  static async open(options: ShimRuntimeOptions): Promise<ShimRuntime> {
    for (const dir of [options.root, options.state]) mkdirSync(dir, { recursive: true, mode: 0o711 });
    const runtime = new ShimRuntime(options);
    runtime.eventsServer = await startEventsServer({
      path: runtime.ttrpcAddress,
      onEvent: async (event) => {
        await Promise.all([...runtime.eventHandlers].map((handler) => handler(event)));
      },
      warn: runtime.warn,
    });
    if ((options.warmShims ?? 0) > 0) {
      runtime.warmShims = new WarmShimPool({ size: options.warmShims!, tasksPerShim: options.tasksPerShim ?? 1, env: shimEnv({ ttrpcAddress: runtime.ttrpcAddress, schedCore: options.schedCore }), warn: runtime.warn, stderrFile: join(dirname(options.state), WARM_SHIMS_STDERR) });
    }
    return runtime;
  }

  private constructor(private readonly options: ShimRuntimeOptions) {
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    this.ttrpcAddress = options.ttrpcAddress ?? `${options.address}.ttrpc`;
    this.binaries = new ShimBinaryResolver(undefined, options.shimBinaries);
  }

  private readonly warn = (message: string) => (this.options.warn ?? ((m: string) => process.stderr.write(`${m}\n`)))(message);

  async create(request: CreateTaskRequest): Promise<RuntimeTask> {
    if (this.closed) throw unavailable('the shim runtime is closed');
    if (this.get(request.namespace, request.id)) throw alreadyExists(`task ${request.id}`);
    const { shimRuntime, debug, options } = this.shimV2(request);
    request = { ...request, options };
    const binary = this.binaries.resolve(request.runtimePath || shimRuntime);
    const bundle = await createBundle(this.options.root, this.options.state, request.namespace, request.id, request.spec);
    let task: ShimTask | undefined;
    try {
      const command = this.command(bundle, binary, debug);
      const log = this.openLog(bundle);
      let address: string;
      try {
        address = (await this.startWarm(command, bundle, request)) ?? (await runShimStart(command, bundle, request.options));
      } catch (err) {
        log.destroy();
        throw err;
      }
      task = await this.attach(bundle, request.runtime, command, address, log);
      writeFileSync(join(bundle.path, SHIM_BINARY_PATH), binary, { mode: 0o600 });
      this.register(task);
      await task.create(request);
      return task;
    } catch (err) {
      if (task) await this.abandon(task);
      else await deleteBundle(bundle).catch((e: Error) => this.warn(`task ${request.id}: removing the bundle: ${e.message}`));
      throw err;
    }
  }

  /**
   * The shim v2 runtime a task runs on, whether its shim runs with -debug, and the options it
   * gets: a legacy v1 task (legacy-linux.ts) runs on the runc shim, its options translated, with
   * the v1 plugin's shim_debug.
   */
  private shimV2(request: CreateTaskRequest): { shimRuntime: string; debug: boolean; options: AnyMessage | undefined } {
    const debug = this.options.debug ?? false;
    if (request.runtime !== LEGACY_LINUX_RUNTIME) return { shimRuntime: request.runtime, debug, options: request.options };
    const legacy = this.options.legacyLinux;
    if (!legacy) throw failedPrecondition(`runtime ${LEGACY_LINUX_RUNTIME}: its plugin (io.containerd.runtime.v1.linux) is disabled`);
    return { shimRuntime: LEGACY_LINUX_SHIM_RUNTIME, debug: debug || legacy.shimDebug, options: legacyLinuxOptions(legacy, [request.options, request.runtimeOptions]) };
  }

  /** ledgerd's own shim from the warm pool: its address, or undefined (then `start` runs). */
  private async startWarm(command: ShimCommand, bundle: Bundle, request: CreateTaskRequest): Promise<string | undefined> {
    if (!this.warmShims || !WarmShimPool.serves(command.binary)) return undefined;
    const options = request.options && { type_url: request.options.typeUrl, value: request.options.value };
    const shimCgroup = runcOptions(options).shim_cgroup || undefined;
    const { annotations } = JSON.parse(Buffer.from(request.spec).toString('utf8')) as { annotations?: Record<string, string> };
    return this.warmShims.start({ namespace: command.namespace, id: command.id, address: command.address, bundle: bundle.path, debug: command.debug, shimCgroup, grouped: namesGroup(annotations) });
  }

  get(namespace: string, id: string): RuntimeTask | undefined {
    return this.tasks.get(namespace)?.get(id);
  }

  list(namespace: string): RuntimeTask[] {
    return [...(this.tasks.get(namespace)?.values() ?? [])];
  }

  onEvent(handler: (event: TimestampedShimEvent) => Promise<void> | void): () => void {
    this.eventHandlers.add(handler);
    return () => this.eventHandlers.delete(handler);
  }

  onDeath(handler: (dead: DeadTask) => void): () => void {
    this.deathHandlers.add(handler);
    return () => this.deathHandlers.delete(handler);
  }

  /**
   * runtime/v2/shim_load.go: every `<state>/<ns>/<id>` bundle (dot names skipped) is either
   * reconnected (Connect within the load timeout) or cleaned up as a dead shim (reported to
   * onDeath); empty bundles and bundles of containers that no longer exist are removed; work
   * directories without a live task, and `.<id>` leftovers of a delete cut short, are removed.
   */
  async load(containerRuntime: (namespace: string, id: string) => string | undefined): Promise<RuntimeTask[]> {
    const live: ShimTask[] = [];
    for (const namespace of visibleDirs(this.options.state)) {
      await removeHalfDeleted(join(this.options.state, namespace));
      await removeHalfDeleted(join(this.options.root, namespace));
      for (const id of visibleDirs(join(this.options.state, namespace))) {
        if (this.get(namespace, id)) continue;
        const task = await this.loadOne(bundleOf(this.options.state, namespace, id), containerRuntime(namespace, id));
        if (task) live.push(task);
      }
      for (const id of visibleDirs(join(this.options.root, namespace))) {
        if (!this.get(namespace, id)) rmSync(join(this.options.root, namespace, id), { recursive: true, force: true });
      }
    }
    return live;
  }

  async discard(runtimeTask: RuntimeTask): Promise<void> {
    const task = this.get(runtimeTask.namespace, runtimeTask.id);
    if (task !== runtimeTask || !(task instanceof ShimTask)) return;
    const bundle = bundleOf(this.options.state, task.namespace, task.id);
    if (task.pid > 0) {
      await task.kill(9, { all: true }).catch(() => {});
      await withTimeout(task.wait(), this.timeouts.cleanup).catch(() => {});
    }
    // Delete releases the task (unregistered, bundle set aside) when the shim had it
    if (await task.delete().then(() => true, () => false)) return;
    this.unregister(task);
    task.detach();
    await task.shutdown();
    const binary = readOptional(join(bundle.path, SHIM_BINARY_PATH)) ?? this.binaries.resolve(task.runtime);
    await this.cleanupDeadShim(bundle, this.command(bundle, binary));
  }

  /**
   * Closes every shim connection without touching the shims (they keep running for the next
   * daemon to load), lets cleanups of dead shims finish, then closes the events server and
   * removes its socket.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.warmShims?.close();
    const tasks = [...this.tasks.values()].flatMap((byId) => [...byId.values()]);
    this.tasks.clear();
    for (const task of tasks) task.detach();
    await Promise.all(tasks.map((task) => task.client.close()));
    await Promise.all(this.cleanups);
    await this.eventsServer?.close();
  }

  private async loadOne(bundle: Bundle, runtimeName: string | undefined): Promise<ShimTask | undefined> {
    const { namespace, id } = bundle;
    if (readdirSync(bundle.path).length === 0) {
      await this.removeBundle(bundle);
      return undefined;
    }
    let binary = readOptional(join(bundle.path, SHIM_BINARY_PATH));
    if (!binary) {
      if (!runtimeName) {
        this.warn(`task ${namespace}/${id}: no container and no shim binary recorded; removing its bundle`);
        await this.removeBundle(bundle);
        return undefined;
      }
      try {
        binary = this.binaries.resolve(runtimeName);
      } catch (err) {
        this.warn(`task ${namespace}/${id}: ${(err as Error).message}; removing its bundle`);
        await this.removeBundle(bundle);
        return undefined;
      }
    }
    const command = this.command(bundle, binary);
    const address = readOptional(join(bundle.path, ADDRESS));
    const deadline = Date.now() + this.timeouts.load;
    for (let attempt = 1; ; attempt++) {
      let task: ShimTask | undefined;
      try {
        if (!address) throw new Error('no shim address in the bundle');
        const remaining = Math.max(deadline - Date.now(), 1);
        // not watched until Connect answered: a connection reset before is retried, not a death
        task = await this.attach(bundle, runtimeName ?? binary, command, address, this.openLog(bundle), remaining, false);
        await task.connect(remaining);
        if (task.client.closed) throw new TtrpcClosedError();
        this.watchForDeath(task, bundle, command);
        this.register(task);
        return task;
      } catch (err) {
        if (task) {
          task.detach();
          await task.client.close();
          task.markGone(undefined);
        }
        // a reset connection is no proof of a dead shim (its cleanup would kill a live container):
        // dial again while the load timeout lasts; a refused dial (nobody listens) is one
        const pause = Math.min(RECONNECT_PAUSE_MS * attempt, deadline - Date.now());
        if (isTransientConnectionError(err) && pause > 0) {
          this.warn(`task ${namespace}/${id}: reconnecting to its shim (attempt ${attempt}): ${(err as Error).message}`);
          await new Promise((resolve) => setTimeout(resolve, pause));
          continue;
        }
        const exit = await this.cleanupDeadShim(bundle, command);
        const tries = attempt > 1 ? ` (${attempt} attempts)` : '';
        this.reportDeath(namespace, id, exit, `shim not reachable after restart${tries}: ${(err as Error).message}`);
        return undefined;
      }
    }
  }

  private command(bundle: Bundle, binary: string, debug = this.options.debug ?? false): ShimCommand {
    return {
      binary,
      namespace: bundle.namespace,
      id: bundle.id,
      address: this.options.address,
      ttrpcAddress: this.ttrpcAddress,
      publishBinary: this.options.publishBinary ?? resolve(process.argv[1] ?? process.execPath),
      debug,
      schedCore: this.options.schedCore ?? false,
    };
  }

  /** The shim's `log` FIFO, copied to the daemon's log for as long as the task is attached. */
  private openLog(bundle: Bundle): Socket {
    const log = openLogFifo(join(bundle.path, 'log'));
    const write = this.options.shimLog ?? ((ns: string, id: string, line: string) => process.stderr.write(`shim ${ns}/${id}: ${line}\n`));
    let partial = '';
    log.setEncoding('utf8');
    log.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop()!;
      for (const line of lines) if (line) write(bundle.namespace, bundle.id, line);
    });
    log.on('error', (err) => this.warn(`shim log ${bundle.namespace}/${bundle.id}: ${err.message}`));
    return log;
  }

  /** Connects to a shim; when the connection ends on its own the shim is treated as dead. */
  private async attach(bundle: Bundle, runtime: string, command: ShimCommand, address: string, log: Socket, timeoutMs = 100_000, watch = true): Promise<ShimTask> {
    let client: TtrpcClient;
    try {
      client = await TtrpcClient.connect(shimSocketPath(address), { timeoutMs, observe: this.options.observeCalls });
    } catch (err) {
      log.destroy();
      throw err;
    }
    const task = new ShimTask(bundle.namespace, bundle.id, bundle.path, runtime, client, log, {
      timeouts: this.timeouts,
      released: async (t) => {
        this.unregister(t);
        await this.setAside(bundle);
        t.markGone(undefined);
      },
    });
    if (watch) this.watchForDeath(task, bundle, command);
    return task;
  }

  /** From now on the connection's end, unless on purpose, is the shim's death. */
  private watchForDeath(task: ShimTask, bundle: Bundle, command: ShimCommand): void {
    task.client.onClose(() => {
      if (task.detached) {
        task.markGone(undefined);
        return;
      }
      const cleanup = this.onShimDisconnected(task, bundle, command).finally(() => this.cleanups.delete(cleanup));
      this.cleanups.add(cleanup);
    });
  }

  /**
   * A shim connection ended without the task being deleted (containerd's cleanupAfterDeadShim):
   * the `delete` action cleans up, the bundle goes, and if the task was still registered its
   * end is reported to onDeath.
   */
  private async onShimDisconnected(task: ShimTask, bundle: Bundle, command: ShimCommand): Promise<void> {
    const exit = await this.cleanupDeadShim(bundle, command);
    const registered = this.unregister(task);
    task.markGone(exit);
    if (registered) this.reportDeath(task.namespace, task.id, exit, 'shim disconnected');
  }

  /** Runs the `delete` action and removes the bundle; 255/now when the action failed. */
  private async cleanupDeadShim(bundle: Bundle, command: ShimCommand): Promise<ExitResult & { error?: string }> {
    let exit: ExitResult & { error?: string };
    try {
      const result = await runShimDelete(command, bundle, this.timeouts.cleanup);
      if (result.warnings) this.warn(`cleanup warnings for ${bundle.namespace}/${bundle.id}: ${result.warnings}`);
      exit = { pid: result.pid, exitStatus: result.exitStatus, exitedAt: result.exitedAt };
    } catch (err) {
      exit = { pid: 0, exitStatus: 255, exitedAt: BigInt(Date.now()) * 1_000_000n, error: (err as Error).message };
      this.warn(`failed to clean up after shim of ${bundle.namespace}/${bundle.id}: ${(err as Error).message}`);
    }
    await this.removeBundle(bundle);
    return exit;
  }

  /** A task whose Create failed: Delete, Shutdown, close, remove the bundle (no death to report). */
  private async abandon(task: ShimTask): Promise<void> {
    this.unregister(task);
    task.detach();
    await task.delete().catch(() => task.shutdown());
    await this.removeBundle(bundleOf(this.options.state, task.namespace, task.id));
  }

  private reportDeath(namespace: string, id: string, exit: ExitResult & { error?: string }, reason: string): void {
    const dead: DeadTask = { namespace, id, pid: exit.pid, exitStatus: exit.exitStatus, exitedAt: exit.exitedAt, reason: exit.error ? `${reason}; cleanup failed: ${exit.error}` : reason };
    this.emit(this.deathHandlers, dead);
  }

  /** The bundle out of the way now, its files removed in the background (close() waits for that). */
  private async setAside(bundle: Bundle): Promise<void> {
    const warn = (err: Error) => this.warn(`removing the bundle of ${bundle.namespace}/${bundle.id}: ${err.message}`);
    try {
      const { removal } = await setAsideBundle(bundle);
      const tracked: Promise<void> = removal.catch(warn).finally(() => this.cleanups.delete(tracked));
      this.cleanups.add(tracked);
    } catch (err) {
      warn(err as Error);
    }
  }

  private async removeBundle(bundle: Bundle): Promise<void> {
    await deleteBundle(bundle).catch((err: Error) => this.warn(`removing the bundle of ${bundle.namespace}/${bundle.id}: ${err.message}`));
  }

  private register(task: ShimTask): void {
    let byId = this.tasks.get(task.namespace);
    if (!byId) this.tasks.set(task.namespace, (byId = new Map()));
    byId.set(task.id, task);
  }

  /** Forgets the task if it is the one registered; says whether it was. */
  private unregister(task: ShimTask): boolean {
    const byId = this.tasks.get(task.namespace);
    if (byId?.get(task.id) !== task) return false;
    byId.delete(task.id);
    if (byId.size === 0) this.tasks.delete(task.namespace);
    return true;
  }

  private emit<T>(handlers: Set<(value: T) => void>, value: T): void {
    for (const handler of handlers) {
      try {
        handler(value);
      } catch (err) {
        this.warn(`shim runtime listener failed: ${(err as Error).message}`);
      }
    }
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function visibleDirs(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.'))
    .map((entry) => entry.name);
}

/** `.<id>` directories: a bundle or work directory renamed for deletion, then a crash. */
async function removeHalfDeleted(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory() || !entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    for (const point of mountPointsUnder(path)) await unmountAll(point);
    rmSync(path, { recursive: true, force: true });
  }
}

function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}
