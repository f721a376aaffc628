/**
 * What a deletion with `sync: true` waits for: the next garbage collection, triggered now.
 * Commands get one from the GC plugin; until it is wired, deletes complete without waiting.
 */
export interface GcTrigger {
  /** Asks for a collection soon; resolves once a collection that started after the call finished. */
  scheduleAndWait(): Promise<void>;
}
