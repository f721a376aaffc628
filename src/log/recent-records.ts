import type { LogRecord } from './record.js';

/**
 * The newest durable records, decoded once when their batch commits and shared by every reader
 * that follows the head (the projections and each event subscriber): a hundred subscribers cost
 * one decode per record, not a hundred LMDB reads. It holds a fixed number of records, so a
 * reader that falls further behind reads the older ones from LMDB at its own pace: the fan-out
 * never buffers for a slow reader and never loses a record.
 */
export class RecentRecords {
  private readonly slots: (LogRecord | undefined)[];
  /** Kept records are seqs [first, end). */
  private first = 0;
  private end = 0;

  constructor(readonly capacity: number) {
    this.slots = new Array<LogRecord | undefined>(capacity);
  }

  /**
   * Adds a record newer than any kept; one that does not follow the newest kept restarts the
   * window at it (the seqs between are read from LMDB).
   */
  add(record: LogRecord): void {
    if (this.capacity === 0 || record.seq < this.end) return;
    if (record.seq !== this.end) this.first = record.seq;
    this.slots[record.seq % this.capacity] = record;
    this.end = record.seq + 1;
    if (this.end - this.first > this.capacity) this.first = this.end - this.capacity;
  }

  /** The record at `seq` if it is still kept. */
  get(seq: number): LogRecord | undefined {
    return seq >= this.first && seq < this.end ? this.slots[seq % this.capacity] : undefined;
  }

  /** The oldest kept seq (Infinity while nothing is kept). */
  get oldest(): number {
    return this.end > this.first ? this.first : Infinity;
  }
}
