/**
 * What a deletion with `sync: true` waits for: the next garbage collection, triggered now.
 */
export interface GcTrigger {
  /** Asks for a collection soon; resolves once a collection that started after the call finished. */
  scheduleAndWait(): Promise<void>;
}

/** For commands run without a collector (tests, tools): a sync deletion completes at once. */
export const NO_COLLECTOR: GcTrigger = { scheduleAndWait: () => Promise.resolve() };

/**
 * The channel between the commands that ask for collections and the collector that runs them.
 * The commands need it at construction, while the collector is built from those commands'
 * state, so the daemon creates this first, hands it to both, and the collector serves it once
 * built. Until it does (or when the GC plugin is disabled), requests complete at once.
 */
export class GcRequests implements GcTrigger {
  private collector: GcTrigger = NO_COLLECTOR;

  serve(collector: GcTrigger): void {
    this.collector = collector;
  }

  scheduleAndWait(): Promise<void> {
    return this.collector.scheduleAndWait();
  }
}
