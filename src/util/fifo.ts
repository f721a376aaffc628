// FIFOs: creating them (mkfifo(3), which Node lacks), and opening them without ever blocking the
// event loop, for the daemon (a shim's log), the client (a task's stdio) and the runc shim (a
// process's stdio).
import { closeSync, constants, openSync, statSync } from 'node:fs';
import { Socket } from 'node:net';
import { bindLibc, errnoError } from './libc.js';

const { O_RDONLY, O_WRONLY, O_NONBLOCK, O_APPEND, O_CREAT, O_RDWR } = constants;
const libc = bindLibc<{ mkfifo(path: string, mode: number): number }>({ mkfifo: 'int mkfifo(const char *path, uint32_t mode)' });

/** Creates a FIFO (mkfifo(3)); an existing FIFO at the path is fine. */
export function mkfifo(path: string, mode = 0o700): void {
  if (libc().mkfifo(path, mode) !== 0) {
    const err = errnoError('mkfifo', path);
    if (err.code !== 'EEXIST') throw err;
  }
}

/**
 * Opens a FIFO for reading without blocking and without ever seeing end-of-file: O_RDWR keeps a
 * writer open on our side, so writers may come and go (containerd opens the shim log the same
 * way). Returns a socket over the fd (node reads FIFOs through libuv's pipe handle); destroy()
 * closes it.
 */
export function openLogFifo(path: string, mode = 0o700): Socket {
  mkfifo(path, mode);
  const fd = openSync(path, O_RDWR | O_NONBLOCK);
  try {
    return pipeSocket(fd, 'read');
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

// A process's stdio in the runc shim, with containerd's semantics (pkg/process/io.go): a FIFO the
// shim writes to is opened write-only plus an extra read-only handle, so opening never waits for
// the client and the FIFO stays open; the stdin FIFO is read non-blocking and the shim also holds a
// write handle on it until CloseIO, so the container's stdin sees EOF only when the client is done
// *and* CloseIO was called.

export function isFifo(path: string): boolean {
  try {
    return statSync(path).isFIFO();
  } catch {
    return false;
  }
}

/** A stream socket over a pipe or FIFO fd (libuv polls it; no thread-pool reads). */
export function pipeSocket(fd: number, direction: 'read' | 'write'): Socket {
  return new Socket({ fd, readable: direction === 'read', writable: direction === 'write' });
}

export interface FifoWriter {
  readonly stream: Socket;
  /** The extra read handle while it is open (it tells how much no reader has taken yet). */
  keepAliveFd(): number | undefined;
  /** Closes the extra read handle (after the writer is closed). */
  closeKeepAlive(): void;
}

/** Opens a FIFO for writing: our own read handle first, so the write open succeeds at once. */
export function openFifoWriter(path: string): FifoWriter {
  const keepAlive = openSync(path, O_RDONLY | O_NONBLOCK);
  let writeFd: number;
  try {
    writeFd = openSync(path, O_WRONLY | O_NONBLOCK);
  } catch (err) {
    closeSync(keepAlive);
    throw err;
  }
  let open = true;
  return {
    stream: pipeSocket(writeFd, 'write'),
    keepAliveFd: () => (open ? keepAlive : undefined),
    closeKeepAlive: () => {
      if (open) closeSync(keepAlive);
      open = false;
    },
  };
}

export interface FifoReader {
  readonly stream: Socket;
  /** Closes our write handle: the reader then sees EOF once the client has closed its side too. */
  closeWriteHandle(): void;
}

/** Opens the stdin FIFO for reading, holding a write handle of our own until closeWriteHandle(). */
export function openFifoReader(path: string): FifoReader {
  const readFd = openSync(path, O_RDONLY | O_NONBLOCK);
  let writeFd: number | undefined;
  try {
    writeFd = openSync(path, O_WRONLY | O_NONBLOCK);
  } catch (err) {
    closeSync(readFd);
    throw err;
  }
  return {
    stream: pipeSocket(readFd, 'read'),
    closeWriteHandle: () => {
      if (writeFd !== undefined) closeSync(writeFd);
      writeFd = undefined;
    },
  };
}

/** Opens a regular file for appending (file:// stdio), creating it. */
export function openAppend(path: string): number {
  return openSync(path, O_WRONLY | O_APPEND | O_CREAT, 0o644);
}
