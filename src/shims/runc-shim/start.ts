// The `start` action (containerd's runc shim manager Start): pick the group's socket; if a live
// shim already serves it, hand out its address; otherwise listen, re-exec ourselves detached
// (a new session, so the daemon's death or its process group's signals never reach us) with
// the listening socket as fd 3, and print the address. The daemon dials it right away: the
// kernel queues the connection until the new shim serves.
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { dirname, join } from 'node:path';
import { Any, decode, type AnyValue } from '../wire/protocol/protowire.js';
import { runcOptions } from '../shared/runc-options.js';
import type { ShimFlags } from './flags.js';
import { adjustOomScore, joinShimCgroup, SERVER_NODE_FLAGS } from '../shared/shim-process.js';
import { canConnect, groupSocketPath, toAddress } from '../shared/socket-address.js';

/** Runs the action; returns the address to print. */
export async function startAction(flags: ShimFlags, bundle: string): Promise<string> {
  const path = groupSocketPath(flags.address, flags.namespace, flags.id, bundle);
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
    const cgroup = runcOptions(readOptions()).shim_cgroup;
    if (cgroup) joinShimCgroup(child.pid, cgroup);
    adjustOomScore(child.pid, process.ppid);
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
