// A client's end of a task's stdio, as containerd's cio package does it: FIFOs in a private
// directory, opened before the task is created, copied to and from this process.
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, constants as fs } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { mkfifo } from '../../shims/fifo.js';

export interface TaskIO {
  /** The paths for Tasks.Create / Exec ("" where a stream is not wanted). */
  readonly stdin: string;
  readonly stdout: string;
  readonly stderr: string;
  readonly terminal: boolean;
  /** Call once Create/Exec has returned (the shim holds its ends): starts copying output. */
  attach(): void;
  /** Resolves when the task's output streams have ended (after its exit). */
  readonly done: Promise<void>;
  /** Closes our write end of stdin (the process reads EOF). */
  closeStdin(): void;
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
 * directory. Until the shim has opened its ends, each FIFO is held open read-write (a reader
 * alone would see end-of-file at once, and the shim's open for writing would block without a
 * reader). attach() then reads through a read-only descriptor and drops the holders, so the
 * output ends when the shim closes its ends; our stdin stays read-write (never blocks, and
 * closing it is the process's end-of-file).
 */
export function fifoIO(options: TaskIOOptions): TaskIO {
  mkdirSync(options.fifoRoot, { recursive: true, mode: 0o700 });
  const dir = mkdtempSync(join(options.fifoRoot, `${process.pid}-`));
  const path = (name: string) => join(dir, `${options.id}-${name}`);
  const stdin = options.stdin ? path('stdin') : '';
  const stdout = path('stdout');
  const stderr = options.terminal ? '' : path('stderr');
  for (const fifo of [stdin, stdout, stderr].filter(Boolean)) mkfifo(fifo, 0o600);

  const socketOn = (fifo: string, flags: number) => new Socket({ fd: openSync(fifo, flags | fs.O_NONBLOCK), readable: true, writable: true });
  const outputs = [
    { fifo: stdout, sink: options.stdout },
    { fifo: stderr, sink: options.stderr },
  ].filter((o) => o.fifo);
  const holders = outputs.map((o) => openSync(o.fifo, fs.O_RDWR | fs.O_NONBLOCK));
  const sockets: Socket[] = [];
  let input: Socket | undefined;
  if (stdin) {
    input = socketOn(stdin, fs.O_RDWR);
    sockets.push(input);
    // our descriptor is also a writer: the process reads end-of-file only once it is closed
    input.once('finish', () => input!.destroy());
    options.stdin!.pipe(input);
  }
  let ended!: () => void;
  const done = new Promise<void>((resolve) => (ended = resolve));

  return {
    stdin,
    stdout,
    stderr,
    terminal: options.terminal,
    done,
    attach() {
      const closed = outputs.map(({ fifo, sink }) => {
        const socket = socketOn(fifo, fs.O_RDONLY);
        sockets.push(socket);
        socket.pipe(sink, { end: false });
        return new Promise<void>((resolve) => socket.once('close', () => resolve()));
      });
      for (const fd of holders.splice(0)) closeSync(fd);
      void Promise.all(closed).then(ended);
    },
    closeStdin: () => input?.end(),
    close() {
      for (const fd of holders.splice(0)) closeSync(fd);
      for (const socket of sockets) socket.destroy();
      rmSync(dir, { recursive: true, force: true });
      ended();
    },
  };
}
