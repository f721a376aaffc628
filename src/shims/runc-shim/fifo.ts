// Opening FIFOs (and files) without ever blocking the event loop, with containerd's semantics
// (pkg/process/io.go): a FIFO the shim writes to is opened write-only plus an extra read-only
// handle, so opening never waits for the client and the FIFO stays open; the stdin FIFO is read
// non-blocking and the shim also holds a write handle on it until CloseIO, so the container's
// stdin sees EOF only when the client is done *and* CloseIO was called.
import { closeSync, constants, openSync, statSync } from 'node:fs';
import { Socket } from 'node:net';

const { O_RDONLY, O_WRONLY, O_NONBLOCK, O_APPEND, O_CREAT } = constants;

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
