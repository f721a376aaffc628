// A client's end of a task's stdio, as containerd's cio package does it: FIFOs in a private
// directory, opened before the task is created, copied to and from this process.
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, constants as fs } from 'node:fs';
import { Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { mkfifo } from '../../util/fifo.js';

export interface TaskIO {
  /** The paths for Tasks.Create / Exec ("" where a stream is not wanted). */
  readonly stdin: string;
  readonly stdout: string;
  readonly stderr: string;
  readonly terminal: boolean;
  /** Call once Start has returned (the shim holds its ends, for an exec too): starts copying output. */
  attach(): void;
  /** Resolves when the task's output streams have ended (after its exit). */
  readonly done: Promise<void>;
  /**
   * Resolves once the input has ended and all of it is in the stdin FIFO, our writer closed: the
   * moment for Tasks.CloseIO{stdin}. Never resolves without stdin or while the input is open.
   */
  readonly stdinClosed: Promise<void>;
  /** Closes everything and removes the FIFO directory. */
  close(): void;
}

export interface TaskIOOptions {
  /** Where FIFO directories go (containerd's client: /run/containerd/fifo). */
  readonly fifoRoot: string;
  readonly id: string;
  readonly stdin?: NodeJS.ReadableStream;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly terminal: boolean;
}

/**
 * FIFOs `<id>-stdin`, `<id>-stdout`, `<id>-stderr` (no stderr with a terminal) in a fresh 0700
 * directory. Each is held open read-write until attach(), that is until the shim has opened its
 * ends (at Create for a task, only at Start for an exec): an output reader alone would see
 * end-of-file at once and the shim's open for writing would block or fail without a reader, and
 * the input already written to stdin would die with our writer (a FIFO's data lives only while
 * some descriptor is open). attach() then reads the outputs through read-only descriptors and
 * drops the holders, so the output ends when the shim closes its ends.
 *
 * stdin is a write-only stream on a read-write descriptor (its open never blocks; reading it
 * would take the input away from the shim). Closing it is not the process's end-of-file: the
 * shim holds a writer of its own until Tasks.CloseIO{stdin} (containerd's pkg/process), which the
 * caller sends once stdinClosed resolves, as ctr does when its stdin reaches EOF.
 */
export function fifoIO(options: TaskIOOptions): TaskIO {
  mkdirSync(options.fifoRoot, { recursive: true, mode: 0o700 });
  const dir = mkdtempSync(join(options.fifoRoot, `${process.pid}-`));
  const path = (name: string) => join(dir, `${options.id}-${name}`);
  const paths = { stdin: options.stdin ? path('stdin') : '', stdout: path('stdout'), stderr: options.terminal ? '' : path('stderr') };
  for (const fifo of Object.values(paths).filter(Boolean)) mkfifo(fifo, 0o600);
  return fifoStreams(dir, paths, options, true);
}

/**
 * The FIFOs of a running task that an earlier process made (a restarted daemon's CRI container):
 * the shim holds its ends already, so their output is read at attach() with no holders first.
 * close() removes their directory.
 */
export function reopenFifoIO(paths: { stdin: string; stdout: string; stderr: string }, options: Omit<TaskIOOptions, 'fifoRoot' | 'id'>): TaskIO {
  return fifoStreams(dirname(paths.stdout || paths.stderr), { ...paths, stdin: options.stdin ? paths.stdin : '' }, options, false);
}

function fifoStreams(dir: string, paths: { stdin: string; stdout: string; stderr: string }, options: Omit<TaskIOOptions, 'fifoRoot' | 'id'>, hold: boolean): TaskIO {
  const { stdin, stdout, stderr } = paths;
  const socketOn = (fifo: string, flags: number, direction: 'read' | 'write') =>
    new Socket({ fd: openSync(fifo, flags | fs.O_NONBLOCK), readable: direction === 'read', writable: direction === 'write' });
  const outputs = [
    { fifo: stdout, sink: options.stdout },
    { fifo: stderr, sink: options.stderr },
  ].filter((o) => o.fifo);
  const holders = hold ? [...outputs.map((o) => o.fifo), stdin].filter(Boolean).map((fifo) => openSync(fifo, fs.O_RDWR | fs.O_NONBLOCK)) : [];
  const sockets: Socket[] = [];
  let attached!: () => void;
  const shimHoldsItsEnds = new Promise<void>((resolve) => (attached = resolve));
  const inputWritten = new Promise<void>((resolve) => {
    if (!stdin) return;
    const input = socketOn(stdin, fs.O_RDWR, 'write');
    sockets.push(input);
    input.on('error', () => undefined); // the FIFO went away under us (close() after the exit)
    // 'finish' (all of it written) then, the socket destroying itself, 'close' (descriptor closed)
    let finished = false;
    input.once('finish', () => (finished = true));
    input.once('close', () => finished && resolve());
    options.stdin!.pipe(input);
  });
  const stdinClosed = Promise.all([inputWritten, shimHoldsItsEnds]).then(() => undefined);
  let ended!: () => void;
  const done = new Promise<void>((resolve) => (ended = resolve));

  return {
    stdin,
    stdout,
    stderr,
    terminal: options.terminal,
    done,
    stdinClosed,
    attach() {
      const closed = outputs.map(({ fifo, sink }) => {
        const socket = socketOn(fifo, fs.O_RDONLY, 'read');
        sockets.push(socket);
        socket.pipe(sink, { end: false });
        return new Promise<void>((resolve) => socket.once('close', () => resolve()));
      });
      for (const fd of holders.splice(0)) closeSync(fd);
      attached();
      void Promise.all(closed).then(ended);
    },
    close() {
      for (const fd of holders.splice(0)) closeSync(fd);
      for (const socket of sockets) socket.destroy();
      rmSync(dir, { recursive: true, force: true });
      ended();
    },
  };
}
