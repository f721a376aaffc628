import { closeSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';

/** containerd streams reads in buffers of 1 MiB. */
export const READ_CHUNK = 1 << 20;
/**
 * Reads up to this size (manifests, configs, indexes) are done synchronously in one go: three
 * system calls on cached pages take microseconds, where the thread-pool round trips of an
 * asynchronous open, read and close cost half a millisecond of the request's latency.
 */
export const SMALL_READ = 64 << 10;

/**
 * Reads `length` bytes of a file from `offset`, in chunks of at most `chunk` bytes. Each chunk
 * is a fresh buffer (the consumer may hold on to it) and is read only when the consumer asks for
 * it, so a slow reader keeps at most one chunk in memory.
 */
export async function* readRange(path: string, offset: number, length: number, chunk = READ_CHUNK): AsyncGenerator<Buffer> {
  if (length <= Math.min(chunk, SMALL_READ)) {
    const small = readSmall(path, offset, length);
    if (small.length > 0) yield small;
    return;
  }
  const handle = await open(path, 'r');
  try {
    let position = offset;
    const end = offset + length;
    while (position < end) {
      const buffer = Buffer.allocUnsafe(Math.min(chunk, end - position));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) return;
      position += bytesRead;
      yield bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}

/** `length` bytes from `offset` in one synchronous read (fewer at the end of the file); `allocate` makes the buffer. */
export function readSmall(path: string, offset: number, length: number, allocate: (size: number) => Buffer = Buffer.allocUnsafe): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buffer = allocate(length);
    let filled = 0;
    while (filled < length) {
      const bytesRead = readSync(fd, buffer, filled, length - filled, offset + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return filled === length ? buffer : buffer.subarray(0, filled);
  } finally {
    closeSync(fd);
  }
}
