// The copy of one output of a container process (a pipe or its pty master) to the client's end
// (a FIFO or a file), and how much of it has not reached the client yet. A client takes the
// answer to Wait as the end of the output: ctr's `run` closes its FIFOs as soon as the task has
// exited, and what was still in the shim or in the FIFO is lost. So a process's exit is reported
// only once its output is delivered (process.ts): nothing left unread in the pipe or pty, nothing
// buffered here, nothing unread in the FIFO.
import type { Readable, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FifoWriter } from '../../util/fifo.js';
import { unreadBytes } from './syscalls.js';

export class OutputCopy {
  private ended = false;
  /** Resolves when the source has ended and `finish` has run (and a stream it ended has flushed). */
  readonly done: Promise<void>;

  /**
   * Copies `from` (a pipe's read end or a pty master) into `to` until it ends or fails, then runs
   * `finish` once. If `finish` ended `to`, `done` waits for it to flush: a file stream's writes
   * run on the thread pool, and closing it earlier drops the ones still queued. `sourceUnread`:
   * bytes the process wrote that `from` has not read yet; `clientUnread`: bytes in the FIFO the
   * client has not read yet.
   */
  constructor(
    private readonly from: Readable,
    private readonly sourceUnread: () => number,
    private readonly to: Writable,
    finish: () => void,
    private readonly clientUnread: () => number = () => 0,
  ) {
    this.done = new Promise<void>((resolve) => {
      let finished = false;
      const end = (): void => {
        this.ended = true;
        if (finished) return;
        finished = true;
        finish();
        if (!to.writableEnded || to.writableFinished || to.destroyed) return resolve();
        to.once('finish', resolve);
        to.once('close', resolve);
        to.once('error', () => resolve());
      };
      from.pipe(to, { end: false });
      from.once('end', end);
      from.once('error', end);
      from.once('close', end);
      to.once('error', () => from.destroy());
    });
  }

  /** Bytes the process wrote that the client has not read yet. */
  undelivered(): number {
    let bytes = this.to.writableLength + this.clientUnread();
    if (!this.ended) bytes += this.from.readableLength + ((this.from as unknown as Partial<Writable>).writableLength ?? 0) + this.sourceUnread();
    return bytes;
  }
}

/** What the client has not read yet of a FIFO we write (known while our read handle is open). */
export function unreadInFifo(writer: FifoWriter): () => number {
  return () => {
    const fd = writer.keepAliveFd();
    return fd === undefined ? 0 : unreadIn(fd);
  };
}

/** Bytes waiting in a pipe, FIFO or pty; 0 where the kernel says none can come (a pty master whose slaves are closed answers EIO). */
export function unreadIn(fd: number): number {
  try {
    return unreadBytes(fd);
  } catch {
    return 0;
  }
}

export interface DeliveryLimits {
  /** Give up when the undelivered amount has not changed for this long (a client that stopped reading). */
  readonly stallMs: number;
  /** Give up after this long whatever happens (a background process still writing to the same pipe). */
  readonly maxMs: number;
}

/** Bytes of `copies` not yet in the client's hands, now. */
export function undeliveredBytes(copies: readonly OutputCopy[]): number {
  return copies.reduce((sum, copy) => sum + copy.undelivered(), 0);
}

/**
 * Resolves once nothing of `copies` is undelivered (true), or with false when the client stopped
 * reading or the output never ends (see DeliveryLimits). Polls: a FIFO being emptied has no event.
 */
export async function untilDelivered(copies: readonly OutputCopy[], limits: DeliveryLimits): Promise<boolean> {
  const start = Date.now();
  let last = -1;
  let lastChange = start;
  for (let pause = 1; ; pause = Math.min(pause * 2, 16)) {
    const undelivered = undeliveredBytes(copies);
    if (undelivered === 0) return true;
    const now = Date.now();
    if (undelivered !== last) {
      last = undelivered;
      lastChange = now;
    } else if (now - lastChange >= limits.stallMs) {
      return false;
    }
    if (now - start >= limits.maxMs) return false;
    await sleep(pause);
  }
}
