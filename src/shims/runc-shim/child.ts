// Runs a program (runc) to completion as the shim's own child, through posix_spawn rather than
// Node's child_process (execa): that forks the whole shim per command, ~1.2 ms of CPU with the
// event loop blocked, three times per container; posix_spawn costs ~0.1 ms whatever our size.
// The exit comes from the shim's reaper, which already waits for the containers' processes.
import { closeSync } from 'node:fs';
import { Socket } from 'node:net';
import { exitOf } from './reaper.js';
import { pipe, posixSpawn, type SpawnFd } from './syscalls.js';

/** A child's stdio: one of our file descriptors, /dev/null ('ignore'), or a pipe to us ('pipe'). */
export type ChildStdio = number | 'ignore' | 'pipe';

export interface ChildResult {
  /** The exit status, or 128 + signal. */
  readonly exitCode: number;
  /** What the child wrote to a 'pipe' stdout / stderr, final newline stripped ('' otherwise). */
  readonly stdout: string;
  readonly stderr: string;
}

export interface ChildOptions {
  readonly cwd: string;
  readonly stdio: readonly [ChildStdio, ChildStdio, ChildStdio];
  /** Written to a 'pipe' stdin, which is then closed. */
  readonly input?: string;
}

/** Rejects only when the program could not be started (posix_spawn's error: ENOENT, EACCES...). */
export async function runChild(path: string, args: readonly string[], options: ChildOptions): Promise<ChildResult> {
  const ours: number[] = [];
  const theirs: number[] = [];
  let exited: Promise<number>;
  try {
    const childFds = options.stdio.map((stdio, fd): SpawnFd => {
      if (stdio === 'ignore') return 'null';
      if (stdio !== 'pipe') return stdio;
      const [readEnd, writeEnd] = pipe();
      ours[fd] = fd === 0 ? writeEnd : readEnd;
      theirs.push(fd === 0 ? readEnd : writeEnd);
      return fd === 0 ? readEnd : writeEnd;
    }) as [SpawnFd, SpawnFd, SpawnFd];
    exited = exitOf(posixSpawn(path, [path, ...args], environment(), options.cwd, childFds));
  } catch (err) {
    for (const fd of ours) if (fd !== undefined) closeSync(fd);
    throw err;
  } finally {
    for (const fd of theirs) closeSync(fd);
  }
  if (ours[0] !== undefined) {
    const stdin = new Socket({ fd: ours[0], readable: false, writable: true });
    stdin.on('error', () => {}); // the child exited without reading: its status tells
    stdin.end(options.input ?? '');
  }
  const [exitCode, stdout, stderr] = await Promise.all([exited, readAll(ours[1]), readAll(ours[2])]);
  return { exitCode, stdout, stderr };
}

function readAll(fd: number | undefined): Promise<string> {
  if (fd === undefined) return Promise.resolve('');
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = new Socket({ fd, readable: true, writable: false });
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => {});
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '')));
  });
}

/** The shim's environment as envp, built once (~0.2 ms each time; nothing in the shim changes it). */
let envp: string[] | undefined;
const environment = (): string[] => (envp ??= Object.entries(process.env).map(([name, value]) => `${name}=${value}`));
