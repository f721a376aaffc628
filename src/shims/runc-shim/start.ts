// The `start` action (containerd's runc shim manager Start): pick the group's socket; if a live
// shim already serves it, hand out its address; otherwise listen (group-socket.ts), re-exec
// ourselves detached (a new session, so the daemon's death or its process group's signals never
// reach us) with the listening socket as fd 3, and print the address. The daemon dials it right
// away: the kernel queues the connection until the new shim serves.
import { spawn } from 'node:child_process';
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { Any, decode, type AnyValue } from '../wire/protocol/protowire.js';
import { runcOptions } from '../shared/runc-options.js';
import type { ShimFlags } from './flags.js';
import { adjustOomScore, joinShimCgroup, SERVER_NODE_FLAGS } from '../shared/shim-process.js';
import { claimGroupSocket } from '../shared/group-socket.js';
import { groupSocketPath, toAddress } from '../shared/socket-address.js';

/** Runs the action; returns the address to print. */
export async function startAction(flags: ShimFlags, bundle: string): Promise<string> {
  const path = groupSocketPath(flags.address, flags.namespace, flags.id, bundle);
  const address = toAddress(path);

  const server = await claimGroupSocket(path, () => listen(path)).catch((err: Error) => {
    throw new Error(`create new shim socket: ${err.message}`);
  });
  writeFileSync(join(bundle, 'address'), address);
  // the group's shim is alive: it serves this container too
  if (!server) return address;

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
