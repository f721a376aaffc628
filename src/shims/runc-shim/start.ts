// The `start` action (containerd's runc shim manager Start): pick the group's socket; if a live
// shim already serves it, hand out its address; otherwise listen, re-exec ourselves detached
// (a new session, so the daemon's death or its process group's signals never reach us) with
// the listening socket as fd 3, and print the address. The daemon dials it right away: the
// kernel queues the connection until the new shim serves.
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { dirname, join } from 'node:path';
import { Any, decode, type AnyValue } from '../protocol/protowire.js';
import { runcOptions } from './options.js';
import type { ShimFlags } from './flags.js';
import { groupOf, socketPath, toAddress } from './socket-address.js';

/**
 * V8 settings of the long-running shim, which is small and mostly idle: a 1 MiB young
 * generation, no optimizing compiler (lite mode), and gc() exposed for the periodic collection
 * (as containerd's shim frees memory every 30 s). Together: ~4 MiB less private memory.
 */
const SERVER_NODE_FLAGS = ['--max-semi-space-size=1', '--lite-mode', '--expose-gc'];

/** Runs the action; returns the address to print. */
export async function startAction(flags: ShimFlags, bundle: string): Promise<string> {
  const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as { annotations?: Record<string, string> };
  const path = socketPath(flags.address, flags.namespace, groupOf(flags.id, spec.annotations), bundle);
  const address = toAddress(path);

  let server: Server;
  try {
    server = await listen(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw new Error(`create new shim socket: ${(err as Error).message}`);
    if (await canConnect(path)) {
      // the group's shim is alive: it serves this container too
      writeFileSync(join(bundle, 'address'), address);
      return address;
    }
    rmSync(path, { force: true });
    server = await listen(path);
  }
  writeFileSync(join(bundle, 'address'), address);

  const args = [...process.execArgv, ...SERVER_NODE_FLAGS, process.argv[1]!, '-namespace', flags.namespace, '-id', flags.id, '-address', flags.address];
  if (flags.debug) args.push('-debug');
  const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
  const child = spawn(process.execPath, args, { cwd: bundle, detached: true, stdio: ['ignore', 'ignore', 'ignore', fd], env: process.env });
  child.unref();
  if (!child.pid) throw new Error('failed to start the shim server');
  try {
    applyShimCgroup(child.pid, readOptions());
    adjustOomScore(child.pid);
  } catch (err) {
    child.kill('SIGKILL');
    rmSync(path, { force: true });
    throw err;
  }
  // the listener is the child's now; the caller exits without closing it (closing would unlink the socket)
  return address;
}

function listen(path: string): Promise<Server> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(path, () => {
      chmodSync(path, 0o600);
      resolve(server);
    });
  });
}

function canConnect(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/** The task options the daemon wrote on our stdin (a protobuf Any), if any. */
function readOptions(): AnyValue | undefined {
  let data: Buffer;
  try {
    if (process.stdin.isTTY) return undefined;
    data = readFileSync(0);
  } catch {
    return undefined;
  }
  return data.length > 0 ? decode<AnyValue>(Any, data) : undefined;
}

/** options.shim_cgroup: the shim joins that cgroup (every v1 hierarchy that has it, or the v2 one). */
function applyShimCgroup(pid: number, options: AnyValue | undefined): void {
  const cgroup = runcOptions(options).shim_cgroup;
  if (!cgroup) return;
  const candidates = ['/sys/fs/cgroup', ...listDirs('/sys/fs/cgroup')].map((root) => join(root, cgroup, 'cgroup.procs'));
  let joined = false;
  for (const procs of candidates) {
    try {
      writeFileSync(procs, String(pid));
      joined = true;
    } catch {
      // this hierarchy has no such cgroup
    }
  }
  if (!joined) throw new Error(`failed to join cgroup ${cgroup}`);
}

function listDirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => join(dir, d.name));
  } catch {
    return [];
  }
}

/** The shim's oom_score_adj: its parent's (the daemon's) + 1, so the OOM killer takes the shim before the daemon. */
function adjustOomScore(pid: number): void {
  const parent = Number(readFileSync(`/proc/${process.ppid}/oom_score_adj`, 'utf8').trim());
  writeFileSync(`/proc/${pid}/oom_score_adj`, String(Math.min(1000, Math.max(-1000, parent + 1))));
}
