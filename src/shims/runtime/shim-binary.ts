import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Bundle } from './bundle.js';
import { Any, decode, encode, nsFromTimestamp, type TimestampValue } from '../wire/protocol/protowire.js';
import { DeleteResponse } from '../wire/protocol/task.js';
import type { AnyMessage, ExitResult } from './task-runtime.js';

/** How the daemon runs one shim binary (runtime/v2/shim/util.go Command). */
export interface ShimCommand {
  /** The resolved shim binary. */
  readonly binary: string;
  readonly namespace: string;
  readonly id: string;
  /** The daemon's gRPC address (the runc shim derives its socket name from it). */
  readonly address: string;
  /** The daemon's ttrpc events socket, given to the shim as TTRPC_ADDRESS. */
  readonly ttrpcAddress: string;
  /** The daemon executable, for `-publish-binary` (only legacy shims use it). */
  readonly publishBinary: string;
  readonly debug: boolean;
  /** containerd's sched_core: SCHED_CORE=1 asks the shim for a core-scheduling domain. */
  readonly schedCore?: boolean;
}

function commonArgs(command: ShimCommand): string[] {
  return ['-namespace', command.namespace, '-address', command.address, '-publish-binary', command.publishBinary];
}

export function shimEnv(command: Pick<ShimCommand, 'ttrpcAddress' | 'schedCore'>): NodeJS.ProcessEnv {
  return { ...process.env, GOMAXPROCS: '2', TTRPC_ADDRESS: command.ttrpcAddress, ...(command.schedCore ? { SCHED_CORE: '1' } : {}) };
}

interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: Buffer;
  readonly stderr: Buffer;
  /** stdout and stderr interleaved as they arrived (Go's CombinedOutput). */
  readonly combined: Buffer;
}

/**
 * Runs the shim in the bundle directory, in its own process group and session (the shim must
 * not get the daemon's terminal signals), feeding `stdin` and collecting its output until it
 * exits and closes its pipes. A timeout kills it.
 */
function run(command: ShimCommand, args: string[], cwd: string, stdin: Uint8Array, timeoutMs?: number): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command.binary, [...commonArgs(command), ...args], { cwd, env: shimEnv(command), detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const combined: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => (stdout.push(d), combined.push(d)));
    child.stderr.on('data', (d: Buffer) => (stderr.push(d), combined.push(d)));
    child.stdin.on('error', () => {}); // a shim that exits without reading its options
    child.stdin.end(stdin);
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr), combined: Buffer.concat(combined) });
    });
  });
}

const exitText = (r: RunResult) => (r.signal ? `signal: ${r.signal}` : `exit status ${r.code}`);

/**
 * The `start` action (runtime/v2/binary.go Start): stdin carries the task options as an encoded
 * google.protobuf.Any (nothing when there are none); the shim prints its socket address and
 * exits, leaving its server running. Returns that address.
 */
export async function runShimStart(command: ShimCommand, bundle: Bundle, options?: AnyMessage): Promise<string> {
  const args = ['-id', command.id, ...(command.debug ? ['-debug'] : []), 'start'];
  const stdin = options ? encode(Any, { type_url: options.typeUrl, value: options.value }) : new Uint8Array(0);
  const result = await run(command, args, bundle.path, stdin);
  const output = result.combined.toString().trim();
  if (result.code !== 0) throw new Error(`start failed: ${output}: ${exitText(result)}`);
  return output;
}

export interface ShimDeleteResult extends ExitResult {
  /** What the shim wrote on stderr: warnings of the cleanup. */
  readonly warnings: string;
}

/**
 * The `delete` action (runtime/v2/binary.go Delete), run for a shim that is gone: the shim binary
 * cleans up what its dead server left (runc delete --force, rootfs unmount) and prints a
 * containerd.task.v2.DeleteResponse on stdout.
 */
export async function runShimDelete(command: ShimCommand, bundle: Bundle, timeoutMs: number): Promise<ShimDeleteResult> {
  const args = ['-id', command.id, '-bundle', bundle.path, 'delete'];
  const cwd = existsSync(bundle.path) ? bundle.path : '/';
  const result = await run(command, args, cwd, new Uint8Array(0), timeoutMs);
  const warnings = result.stderr.toString().trim();
  if (result.code !== 0) throw new Error(`${warnings}: ${exitText(result)}`);
  const response = decode<{ pid: number; exit_status: number; exited_at: TimestampValue | undefined }>(DeleteResponse, result.stdout);
  return { pid: response.pid, exitStatus: response.exit_status, exitedAt: nsFromTimestamp(response.exited_at), warnings };
}

/**
 * The socket path of a shim address. Only `unix://<path>` addresses (a socket file) are
 * accepted: an abstract socket can be reached by any process in the network namespace, which
 * is why containerd moved shims off them (CVE-2020-15257).
 */
export function shimSocketPath(address: string): string {
  if (!address.startsWith('unix:///')) throw new Error(`shim address ${JSON.stringify(address)}: only unix:// socket files are accepted, not abstract sockets`);
  return address.slice('unix://'.length);
}
