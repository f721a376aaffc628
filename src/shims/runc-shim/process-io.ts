// The stdio of a container process without a terminal (containerd's pkg/process/io.go): runc
// gets the container's ends of real pipes, the shim copies between the pipes and the client's
// FIFOs (or a file:// file, or a binary:// logging process).
import { spawn } from 'node:child_process';
import { closeSync, constants, createWriteStream, fchownSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Writable } from 'node:stream';
import { openAppend, openFifoReader, openFifoWriter, pipeSocket, isFifo, type FifoReader } from '../../util/fifo.js';
import { OutputCopy, unreadIn, unreadInFifo } from './output-copy.js';
import type { ChildStdio } from './runc.js';
import { pipe } from './syscalls.js';

export interface StdioPaths {
  readonly stdin: string;
  readonly stdout: string;
  readonly stderr: string;
  readonly terminal: boolean;
}

export interface IoOwner {
  readonly uid: number;
  readonly gid: number;
  readonly namespace: string;
  /** Container or exec id (CONTAINER_ID of a binary:// logger is the container id). */
  readonly containerId: string;
}

export class IoError extends Error {
  override name = 'IoError';
}

/** Splits a stdio URI: plain paths are FIFOs; file:// and binary:// as containerd parses them. */
export function stdioScheme(uri: string): { scheme: 'fifo' | 'file' | 'binary'; path: string; args: string[] } {
  const match = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(uri);
  if (!match) return { scheme: 'fifo', path: uri, args: [] };
  const scheme = match[1]!.toLowerCase();
  if (scheme !== 'fifo' && scheme !== 'file' && scheme !== 'binary') throw new IoError(`unknown STDIO scheme ${scheme}`);
  const url = new URL(uri);
  const args: string[] = [];
  for (const [key, value] of url.searchParams) args.push(key, ...(value ? [value] : []));
  return { scheme, path: decodeURIComponent(url.pathname), args };
}

/**
 * The pipes and copies of one process. Create it before runc create/exec, pass `childStdio` to
 * runc, call `afterStart()` once runc has returned (closes the container's ends and starts copying).
 */
export class ProcessIO {
  readonly childStdio: [ChildStdio, ChildStdio, ChildStdio] = ['ignore', 'ignore', 'ignore'];
  private readonly childEnds: number[] = [];
  private readonly closers: Array<() => void> = [];
  private stdinReader: FifoReader | undefined;
  /** The copies of stdout and stderr (none for null IO or a binary:// logger). */
  readonly outputs: OutputCopy[] = [];
  private started = false;

  private constructor(
    private readonly stdio: StdioPaths,
    private readonly owner: IoOwner,
  ) {}

  static async create(stdio: StdioPaths, owner: IoOwner): Promise<ProcessIO> {
    const io = new ProcessIO(stdio, owner);
    try {
      await io.setup();
    } catch (err) {
      io.close();
      throw err;
    }
    return io;
  }

  private async setup(): Promise<void> {
    const { stdin, stdout, stderr } = this.stdio;
    if (!stdin && !stdout && !stderr) return; // null IO: runc's stdio is /dev/null
    const { scheme, path, args } = stdioScheme(stdout || stderr);
    if (scheme === 'binary') return this.setupBinary(path, args);

    let sharedFile: { stream: Writable; users: number } | undefined;
    for (const [index, target] of [
      [1, stdout],
      [2, stderr],
    ] as const) {
      if (!target) continue;
      const dest = scheme === 'file' ? path : target;
      // the destination first: if it cannot be opened, no pipe is left behind
      if (scheme === 'fifo' && isFifo(dest)) {
        const writer = openFifoWriter(dest);
        this.closers.push(() => writer.stream.destroy(), writer.closeKeepAlive);
        // the read handle stays until close(): it tells how much the client has still to read
        this.outputs.push(copyPipe(this.pipe(index), writer.stream, () => writer.stream.end(), unreadInFifo(writer)));
        continue;
      }
      // a regular file (file://, or a plain path that is not a FIFO): appended to; file:// stdout and stderr share it
      let file = scheme === 'file' ? sharedFile : undefined;
      if (!file) {
        if (scheme === 'file') mkdirSync(dirname(dest), { recursive: true, mode: 0o755 });
        const stream = createWriteStream(dest, { fd: scheme === 'file' ? openAppend(dest) : openSync(dest, constants.O_WRONLY | constants.O_APPEND) });
        this.closers.push(() => stream.destroy());
        file = { stream, users: 0 };
        if (scheme === 'file') sharedFile = file;
      }
      const shared = file;
      shared.users++;
      this.outputs.push(copyPipe(this.pipe(index), shared.stream, () => --shared.users === 0 && shared.stream.end()));
    }
    if (stdin) {
      const reader = (this.stdinReader = openFifoReader(stdin));
      const [r, w] = pipe();
      this.adoptChildEnd(0, r);
      this.closers.push(() => reader.stream.destroy(), () => reader.closeWriteHandle());
      const toContainer = pipeSocket(w, 'write');
      this.closers.push(() => toContainer.destroy());
      reader.stream.pipe(toContainer);
      reader.stream.on('error', () => toContainer.end());
      toContainer.on('error', () => reader.stream.destroy());
    }
  }

  /** A pipe whose write end goes to the container as fd `index`; returns our read end. */
  private pipe(index: 1 | 2): number {
    const [r, w] = pipe();
    this.adoptChildEnd(index, w);
    return r;
  }

  private adoptChildEnd(index: 0 | 1 | 2, fd: number): void {
    if (this.owner.uid || this.owner.gid) fchownSync(fd, this.owner.uid, this.owner.gid);
    this.childStdio[index] = fd;
    this.childEnds.push(fd);
  }

  /** binary://path?args: a logging process reads fd 3 (stdout) and fd 4 (stderr), signals readiness on fd 5. */
  private async setupBinary(path: string, args: string[]): Promise<void> {
    const [outR, outW] = pipe();
    const [errR, errW] = pipe();
    const [readyR, readyW] = pipe();
    this.adoptChildEnd(1, outW);
    this.adoptChildEnd(2, errW);
    const logger = spawn(path, args, {
      stdio: ['ignore', 'ignore', 'ignore', outR, errR, readyW],
      env: { ...process.env, CONTAINER_ID: this.owner.containerId, CONTAINER_NAMESPACE: this.owner.namespace },
    });
    for (const fd of [outR, errR, readyW]) closeSync(fd);
    this.closers.push(() => {
      if (logger.exitCode === null) logger.kill('SIGKILL');
    });
    await new Promise<void>((resolve, reject) => {
      const ready = pipeSocket(readyR, 'read');
      logger.once('error', (err) => reject(new IoError(`failed to start binary process: ${err.message}`)));
      ready.once('data', () => (ready.destroy(), resolve()));
      ready.once('end', () => (ready.destroy(), resolve()));
      ready.once('error', () => (ready.destroy(), resolve()));
    });
  }

  /** runc has run: close the container's ends here, so EOF reaches us when the container closes them. */
  afterStart(): void {
    if (this.started) return;
    this.started = true;
    for (const fd of this.childEnds.splice(0)) closeSync(fd);
  }

  /** Resolves when stdout and stderr have been copied to the end. */
  get copied(): Promise<void> {
    return Promise.all(this.outputs.map((output) => output.done)).then(() => undefined);
  }

  /** CloseIO{stdin}: drop our write handle on the stdin FIFO. */
  closeStdin(): void {
    this.stdinReader?.closeWriteHandle();
  }

  close(): void {
    for (const fd of this.childEnds.splice(0)) closeSync(fd);
    for (const close of this.closers.splice(0)) {
      try {
        close();
      } catch {
        // already closed
      }
    }
  }
}

/** Copies a pipe (our read end) into `to` until EOF, then runs `finish` (which ends or releases `to`). */
function copyPipe(fd: number, to: Writable, finish: () => void, clientUnread?: () => number): OutputCopy {
  const from = pipeSocket(fd, 'read');
  // the socket closes the descriptor when it ends
  return new OutputCopy(from, () => (from.destroyed ? 0 : unreadIn(fd)), to, finish, clientUnread);
}
