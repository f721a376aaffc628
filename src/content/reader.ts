import { open } from 'node:fs/promises';

/** containerd streams reads in buffers of 1 MiB. */
export const READ_CHUNK = 1 << 20;

/**
 * Reads `length` bytes of a file from `offset`, in chunks of at most `chunk` bytes. Each chunk
 * is a fresh buffer (the consumer may hold on to it) and is read only when the consumer asks for
 * it, so a slow reader keeps at most one chunk in memory.
 */
export async function* readRange(path: string, offset: number, length: number, chunk = READ_CHUNK): AsyncGenerator<Buffer> {
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
