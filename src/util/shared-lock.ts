/**
 * Many shared holders or one exclusive holder, in arrival order (a waiting exclusive holder stops
 * new shared ones from jumping ahead). Content commits hold it shared and the blob sweep
 * exclusively, as containerd's metadata write lock keeps commits and the content GC apart.
 */
export class SharedLock {
  private shared = 0;
  private exclusive = false;
  private readonly queue: { exclusive: boolean; grant: () => void }[] = [];

  async runShared<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire(false);
    try {
      return await fn();
    } finally {
      this.shared--;
      this.drain();
    }
  }

  async runExclusive<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire(true);
    try {
      return await fn();
    } finally {
      this.exclusive = false;
      this.drain();
    }
  }

  private acquire(exclusive: boolean): Promise<void> {
    return new Promise((grant) => {
      this.queue.push({ exclusive, grant });
      this.drain();
    });
  }

  private drain(): void {
    while (this.queue.length > 0 && !this.exclusive) {
      const next = this.queue[0]!;
      if (next.exclusive && this.shared > 0) return;
      this.queue.shift();
      if (next.exclusive) this.exclusive = true;
      else this.shared++;
      next.grant();
    }
  }
}
