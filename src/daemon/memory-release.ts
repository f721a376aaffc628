import type { EventLog } from '../log/index.js';
import { garbageCollector, youngGenerationShrinker } from '../util/collect-garbage.js';
import { releaseFreedHeap } from '../util/malloc-trim.js';
import { releaseMappedPages } from '../util/mapped-file.js';

const GARBAGE_SLACK_BYTES = 16 * 1024 * 1024;
/** What a burst of work may leave in the old generation and Buffers before its end collects it. */
const BURST_GARBAGE_BYTES = 4 * 1024 * 1024;
/** How often the daemon looks whether a burst of work has ended. */
const BURST_LOOK_MS = 500;
const SWEEP_MS = 500;
/** The share of one core below which the daemon counts as quiet over an interval. */
const QUIET_CPU_SHARE = 0.02;

/** Whether the process used less than QUIET_CPU_SHARE of a core since the last call. */
function quietness(intervalMs: number): () => boolean {
  let before = process.cpuUsage();
  return () => {
    const used = process.cpuUsage(before);
    before = process.cpuUsage();
    return (used.user + used.system) / 1000 < intervalMs * QUIET_CPU_SHARE;
  };
}

/**
 * Every `everyMs` the daemon gives back memory it holds but no longer uses, so its resident set
 * follows what it holds, not what it once did:
 * - LMDB maps the log's file, and every page a replay, a verify, a reader or an append touches
 *   stays resident: left alone, RSS grows with the log (about 1.5 times the bytes appended).
 *   Those pages go back to the page cache.
 * - A pull or a large content write leaves dead Buffers that V8 collects only at its next full
 *   collection, and malloc keeps what they freed (a 200 MB `ctr content ingest` left 200 MB of
 *   anonymous memory resident, 40 MB of it live). Once 16 MB of garbage may have piled up, a full
 *   collection runs; whole free pages of malloc's arenas go back to the kernel each time.
 * - The young generation V8 grew during a burst (start-up above all) goes back once the daemon
 *   has been quiet for an interval.
 * And when a burst of work ends (half a second quiet after one that was not), what it left goes
 * back at once if it is 4 MB or more: a batch of `ctr run` leaves ~10 MB of garbage in the old
 * generation and as much again freed but kept by malloc, which V8 alone would collect only after
 * more work, minutes later or never. One full collection per burst, ~10-20 ms of CPU.
 */
export function releaseMemoryEvery(log: EventLog, everyMs: number, warn: (message: string) => void): { release(): void; stop(): void } {
  let logPagesFailed = false;
  const collect = garbageCollector(GARBAGE_SLACK_BYTES);
  const shrinkYoungGeneration = youngGenerationShrinker();
  const quietSinceTick = quietness(everyMs);
  const quietSinceLook = quietness(BURST_LOOK_MS);
  let trimLater: NodeJS.Timeout | undefined;
  let inBurst = false;
  const release = (garbageSlack = GARBAGE_SLACK_BYTES) => {
    // V8 frees a dead Buffer's memory on a sweeper task after the collection: trim once more then
    if (collect(garbageSlack) && !trimLater) trimLater = setTimeout(() => ((trimLater = undefined), releaseFreedHeap()), SWEEP_MS).unref();
    releaseFreedHeap();
    if (logPagesFailed) return;
    try {
      releaseMappedPages(log.path);
    } catch (err) {
      logPagesFailed = true;
      warn(`the log's mapped pages cannot be released: ${(err as Error).message}`);
    }
  };
  const tick = () => {
    if (quietSinceTick()) shrinkYoungGeneration();
    release();
  };
  const look = () => {
    const quiet = quietSinceLook();
    if (quiet && inBurst) release(BURST_GARBAGE_BYTES);
    inBurst = !quiet;
  };
  const timers = [setInterval(tick, everyMs).unref(), setInterval(look, BURST_LOOK_MS).unref()];
  return {
    release: () => release(),
    stop: () => {
      timers.forEach(clearInterval);
      clearTimeout(trimLater);
    },
  };
}
