import { constants, openSync, closeSync } from 'node:fs';
import { Socket } from 'node:net';
import { bindLibc, errnoError } from './libc.js';

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
export function openFifoReader(path: string, mode = 0o700): Socket {
  mkfifo(path, mode);
  const fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
  try {
    return new Socket({ fd, readable: true, writable: false });
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}
