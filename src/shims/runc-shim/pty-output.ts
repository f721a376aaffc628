// What a container process writes to its terminal, read from the pty master. libuv reads a pty
// master as it reads a pipe: a short read followed by POLLHUP (the last slave closed) is taken for
// the end. A pty hands out a few KiB per read, so a short read does not mean it is empty: the
// end of a large output (up to ~8 KiB measured, `seq 1 1000000`) would still be in the kernel.
// So when libuv says end, the rest is read here, without blocking, until the kernel's EIO (every
// slave closed and nothing left) or EAGAIN (a slave open again: its output is not this end's).
import { readSync } from 'node:fs';
import { PassThrough, type Readable } from 'node:stream';
import { ReadStream } from 'node:tty';
import { setNonBlocking } from './syscalls.js';

const CHUNK = 64 * 1024;

/** The master's output to its true end; destroying it closes the master. */
export function readPtyMaster(master: number): Readable {
  const tty = new ReadStream(master);
  const output = new PassThrough();
  tty.pipe(output, { end: false });
  // runs before the stream destroys itself (and closes the master) after 'end'
  tty.once('end', () => {
    readRemainder(master, output);
    output.end();
  });
  tty.once('error', () => output.end()); // EIO from a read: nothing was left
  output.once('close', () => tty.destroy());
  return output;
}

function readRemainder(master: number, to: PassThrough): void {
  try {
    setNonBlocking(master);
    const buffer = Buffer.allocUnsafe(CHUNK);
    for (;;) {
      const n = readSync(master, buffer);
      if (n === 0) return;
      to.write(Buffer.from(buffer.subarray(0, n)));
    }
  } catch {
    // EIO: all read; EAGAIN: nothing more for now
  }
}
