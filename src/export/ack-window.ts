/**
 * The records an exporter has handed out and not yet seen acknowledged, in log order, at most
 * `capacity` of them. `acked` is the highest seq up to which every record is acknowledged (or was
 * passed over): the position an export may record and resume after. Acknowledgements may arrive
 * in any order; `acked` only moves over a gap-free prefix.
 */
export class AckWindow {
  private readonly entries: { seq: number; done: boolean; exported: boolean }[] = [];
  private waiting: (() => void) | undefined;

  constructor(
    private readonly capacity: number,
    /** The position before the first record this window will see. */
    public acked: number,
    private readonly onAdvance: (acked: number, exported: number | undefined) => void,
  ) {}

  get inFlight(): number {
    return this.entries.filter((entry) => !entry.done).length;
  }

  get full(): boolean {
    return this.entries.length >= this.capacity;
  }

  /** Resolves when there is room for one more record, or when `wake` is called. */
  room(): Promise<void> {
    if (!this.full) return Promise.resolve();
    return new Promise((resolve) => (this.waiting = resolve));
  }

  wake(): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.();
  }

  /** A record handed out; call `settle(seq)` when it is acknowledged. */
  add(seq: number): void {
    this.entries.push({ seq, done: false, exported: true });
  }

  /** A record that is not exported (counts as acknowledged once all before it are). */
  pass(seq: number): void {
    this.entries.push({ seq, done: true, exported: false });
    this.advance();
  }

  settle(seq: number): void {
    const entry = this.entries.find((e) => e.seq === seq);
    if (entry) entry.done = true;
    this.advance();
  }

  private advance(): void {
    let exported: number | undefined;
    let moved = false;
    while (this.entries[0]?.done) {
      const entry = this.entries.shift()!;
      this.acked = entry.seq;
      if (entry.exported) exported = entry.seq;
      moved = true;
    }
    if (moved) {
      this.onAdvance(this.acked, exported);
      this.wake();
    }
  }
}
