/**
 * A promise every waiter shares, settled by the next wake(): a hundred followers waiting at the
 * head cost one promise per new head, not a subscription and an abort listener each.
 */
export class WakeUp {
  private next: { promise: Promise<void>; resolve: () => void } | undefined;

  wait(): Promise<void> {
    if (!this.next) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.next = { promise, resolve };
    }
    return this.next.promise;
  }

  wake(): void {
    const next = this.next;
    this.next = undefined;
    next?.resolve();
  }
}
