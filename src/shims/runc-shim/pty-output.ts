// What a container process writes to its terminal, read from the pty master. libuv reads a pty
// master as it reads a pipe: a short read followed by POLLHUP (the last slave closed) is taken for
// the end. A pty hands out a few KiB per read, so a short read does not mean it is empty: the
// end of a large output (up to ~8 KiB measured, `seq 1 1000000`) would still be in the kernel.
// So when libuv says end, the rest is read here, without blocking, until the kernel's EIO (every
// slave closed and nothing left) or EAGAIN (a slave open again: its output is not this end's).
// The stream reads a duplicate of the master, which it closes when it ends: the master itself
// stays open for its owner (stdin writes, resizes) and is never a number that a later open reuses.
import { readSync } from 'node:fs';
import { PassThrough, type Readable } from 'node:stream';
import { ReadStream } from 'node:tty';
import { duplicateFd, setNonBlocking } from './syscalls.js';

const CHUNK = 64 * 1024;

/** The master's output to its true end. */
export function readPtyMaster(master: number): Readable {
  const fd = duplicateFd(master);
  const tty = new ReadStream(fd);
  const output = new PassThrough();
  tty.pipe(output, { end: false });
  // runs before the stream destroys itself (and closes its descriptor) after 'end'
  tty.once('end', () => {
    readRemainder(fd, output);
    output.end();
  });
  tty.once('error', () => output.end()); // EIO from a read: nothing was left
  output.once('close', () => tty.destroy());
  return output;
}

function readRemainder(fd: number, to: PassThrough): void {
  try {
    setNonBlocking(fd);
    const buffer = Buffer.allocUnsafe(CHUNK);
    for (;;) {
      const n = readSync(fd, buffer);
      if (n === 0) return;
      to.write(Buffer.from(buffer.subarray(0, n)));
    }
  } catch {
    // EIO: all read; EAGAIN: nothing more for now
  }
}
