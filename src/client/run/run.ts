// `run` as containerd's Go client and ctr do it: a snapshot on the image's chain, a container
// record with the spec, a task with FIFO stdio, Wait before Start, and clean-up with --rm.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { withTempMount, type Mount } from '../../util/mount/index.js';
import { SERVICES, type Rpc } from '../rpc.js';
import { runnableImage } from './image-config.js';
import { defaultSpec, mergeEnv, parsePasswd, PROCESS_TYPE_URL, SPEC_TYPE_URL, withImageConfig, withTerminal, type PasswdEntry, type ProcessSpec } from './oci-spec.js';
import { fifoIO, type TaskIO } from './task-io.js';

export interface ContainerOptions {
  readonly image: string;
  readonly id: string;
  /** Replaces the image's Cmd (its Entrypoint stays), as `ctr run IMAGE ID CMD...`. */
  readonly args: readonly string[];
  readonly env: readonly string[];
  readonly cwd?: string;
  readonly terminal: boolean;
  readonly runtime: string;
  readonly snapshotter: string;
  readonly labels?: Record<string, string>;
}

export interface Stdio {
  readonly stdin?: NodeJS.ReadableStream;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  /** Where FIFO directories go. */
  readonly fifoRoot: string;
}

const DEFAULT_SIGNAL_PROXY: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGUSR1: 10, SIGUSR2: 12, SIGTERM: 15 };

export function signalNumber(signal: string): number {
  if (/^\d+$/.test(signal)) return Number(signal);
  const name = signal.toUpperCase().startsWith('SIG') ? signal.toUpperCase() : `SIG${signal.toUpperCase()}`;
  const n = SIGNAL_NUMBERS[name];
  if (n === undefined) throw new Error(`unknown signal ${signal}`);
  return n;
}

/** The snapshot (key = container id, on the image's chain) and the container record. Returns the rootfs mounts. */
export async function createContainer(rpc: Rpc, options: ContainerOptions): Promise<Mount[]> {
  const image = await runnableImage(rpc, options.image);
  const { mounts } = await rpc.unary<{ mounts: Mount[] }>(SERVICES.snapshots, 'Prepare', {
    snapshotter: options.snapshotter,
    key: options.id,
    parent: image.chainId,
  });
  try {
    const passwd = needsPasswd(image.config.User) ? await readPasswd(mounts) : [];
    const spec = withImageConfig(defaultSpec(rpc.namespace ?? 'default', options.id), image.config, options.args, passwd);
    spec.process.env = mergeEnv(spec.process.env, options.env);
    if (options.cwd) spec.process.cwd = options.cwd;
    if (options.terminal) withTerminal(spec);
    await rpc.unary(SERVICES.containers, 'Create', {
      container: {
        id: options.id,
        image: image.name,
        labels: options.labels ?? {},
        runtime: { name: options.runtime },
        spec: { type_url: SPEC_TYPE_URL, value: Buffer.from(JSON.stringify(spec)) },
        snapshotter: options.snapshotter,
        snapshot_key: options.id,
      },
    });
  } catch (err) {
    await rpc.unary(SERVICES.snapshots, 'Remove', { snapshotter: options.snapshotter, key: options.id }).catch(() => undefined);
    throw err;
  }
  return mounts;
}

const needsPasswd = (user: string | undefined) => !!user && !/^\d+(:\d+)?$/.test(user);

async function readPasswd(mounts: readonly Mount[]): Promise<PasswdEntry[]> {
  return withTempMount(mounts, async (root) => parsePasswd(await readFile(join(root, 'etc', 'passwd'), 'utf8').catch(() => '')));
}

/** Removes the task (if any), the container and its snapshot, as `ctr run --rm` does after the exit. */
export async function removeContainer(rpc: Rpc, id: string, snapshotter: string): Promise<void> {
  await rpc.unary(SERVICES.tasks, 'Delete', { container_id: id }).catch(() => undefined);
  await rpc.unary(SERVICES.containers, 'Delete', { id });
  await rpc.unary(SERVICES.snapshots, 'Remove', { snapshotter, key: id }).catch(() => undefined);
}

/**
 * Creates and starts the container's task attached to this process's stdio, forwards signals,
 * and resolves with its exit status once its output is drained.
 */
export async function runAttached(rpc: Rpc, id: string, rootfs: readonly Mount[], terminal: boolean, stdio: Stdio): Promise<number> {
  const io = fifoIO({ ...stdio, id, terminal });
  try {
    await rpc.unary(SERVICES.tasks, 'Create', { container_id: id, rootfs, stdin: io.stdin, stdout: io.stdout, stderr: io.stderr, terminal });
    return await startAndWait(rpc, id, '', io, terminal, stdio);
  } finally {
    io.close();
  }
}

/** A task whose output goes to a file (file:// URI, opened by the shim), not attached to anything. */
export async function runDetached(rpc: Rpc, id: string, rootfs: readonly Mount[], logPath: string): Promise<number> {
  const uri = logPath ? `file://${logPath}` : '';
  await rpc.unary(SERVICES.tasks, 'Create', { container_id: id, rootfs, stdin: '', stdout: uri, stderr: uri, terminal: false });
  const { pid } = await rpc.unary<{ pid: number }>(SERVICES.tasks, 'Start', { container_id: id });
  return pid;
}

/** `exec`: a new process in a running task, attached to this process's stdio. */
export async function execAttached(rpc: Rpc, id: string, execId: string, process: ProcessSpec, stdio: Stdio): Promise<number> {
  const io = fifoIO({ ...stdio, id: execId, terminal: !!process.terminal });
  try {
    await rpc.unary(SERVICES.tasks, 'Exec', {
      container_id: id,
      exec_id: execId,
      stdin: io.stdin,
      stdout: io.stdout,
      stderr: io.stderr,
      terminal: !!process.terminal,
      spec: { type_url: PROCESS_TYPE_URL, value: Buffer.from(JSON.stringify(process)) },
    });
    const status = await startAndWait(rpc, id, execId, io, !!process.terminal, stdio);
    await rpc.unary(SERVICES.tasks, 'DeleteProcess', { container_id: id, exec_id: execId }).catch(() => undefined);
    return status;
  } finally {
    io.close();
  }
}

/** The spec's process (from the container record), for an exec to start from. */
export async function containerProcess(rpc: Rpc, id: string): Promise<ProcessSpec> {
  const { container } = await rpc.unary<{ container: { spec: { value: Buffer } } }>(SERVICES.containers, 'Get', { id });
  return JSON.parse(Buffer.from(container.spec.value).toString('utf8')).process as ProcessSpec;
}

async function startAndWait(rpc: Rpc, id: string, execId: string, io: TaskIO, terminal: boolean, stdio: Stdio): Promise<number> {
  // Wait first: a process that exits at once is never missed
  const exited = rpc.unary<{ exit_status: number }>(SERVICES.tasks, 'Wait', { container_id: id, exec_id: execId });
  const forward = (signal: NodeJS.Signals) => {
    void rpc.unary(SERVICES.tasks, 'Kill', { container_id: id, exec_id: execId, signal: signalNumber(signal), all: false }).catch(() => undefined);
  };
  for (const signal of DEFAULT_SIGNAL_PROXY) process.on(signal, forward);
  const tty = terminal && stdio.stdin === process.stdin && process.stdin.isTTY ? process.stdin : undefined;
  const resize = () => {
    void rpc
      .unary(SERVICES.tasks, 'ResizePty', { container_id: id, exec_id: execId, width: process.stdout.columns ?? 80, height: process.stdout.rows ?? 24 })
      .catch(() => undefined);
  };
  try {
    tty?.setRawMode(true);
    await rpc.unary(SERVICES.tasks, 'Start', { container_id: id, exec_id: execId });
    io.attach();
    // our end of stdin is closed, but the shim holds a writer until CloseIO (as ctr's stdinCloser).
    // Not with a terminal (ctr sends none either): a pty has no end of input to pass on (a typed
    // ^D is a byte), and containerd's shim takes CloseIO as a hang-up and drops any later output.
    if (!terminal) void io.stdinClosed.then(() => rpc.unary(SERVICES.tasks, 'CloseIO', { container_id: id, exec_id: execId, stdin: true })).catch(() => undefined);
    if (tty) {
      resize();
      process.stdout.on('resize', resize);
    }
    const { exit_status } = await exited;
    await Promise.race([io.done, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
    return exit_status;
  } finally {
    tty?.setRawMode(false);
    process.stdout.off('resize', resize);
    for (const signal of DEFAULT_SIGNAL_PROXY) process.off(signal, forward);
  }
}
