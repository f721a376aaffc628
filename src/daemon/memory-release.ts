import type { EventLog } from '../log/index.js';
import { garbageCollector, youngGenerationShrinker } from '../util/collect-garbage.js';
import { releaseFreedHeap } from '../util/malloc-trim.js';
import { releaseMappedPages } from '../util/mapped-file.js';

/** What the old generation and Buffers may have grown since the last full collection before a quiet interval runs one. */
const GARBAGE_SLACK_BYTES = 4 * 1024 * 1024;
/** The same at the end of a burst of work, larger: each collection costs the next burst its optimized code. */
const BURST_GARBAGE_BYTES = 24 * 1024 * 1024;
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
 * - malloc keeps what freed objects and Buffers gave back: whole free pages of its arenas go back
 *   to the kernel, at every interval and as soon as a burst of work ends (half a second quiet).
 * - A pull or a large content write leaves dead Buffers that V8 collects only at its next full
 *   collection (a 200 MB `ctr content ingest` left 200 MB of anonymous memory resident, 40 MB of
 *   it live), and a batch of `ctr run` ~10 MB of garbage in the old generation, which V8 alone
 *   would collect only after more work, minutes later or never. A full collection runs once the
 *   daemon has been quiet for a whole interval if 4 MB of garbage may have piled up, and at the
 *   end of a burst (half a second quiet) if 24 MB may have: about every 200 `ctr run`.
 * - The young generation V8 grew during a burst (start-up above all) goes back once the daemon
 *   has been quiet for an interval.
 *
 * Never while the daemon is busy, and rarely between bursts: a full collection throws away the
 * optimized code that embeds objects it finds dead (V8 deoptimizes it for "weak objects": ~100
 * functions after a batch of `ctr run`, each the code of a finished connection's calls), and
 * compiling them again took the next 50-100 containers ~40 % more daemon CPU, on the main thread
 * and on V8's compiler threads. Under load V8's own collections bound the heap.
 */
export function releaseMemoryEvery(log: EventLog, everyMs: number, warn: (message: string) => void): { release(): void; stop(): void } {
  let logPagesFailed = false;
  const collect = garbageCollector(GARBAGE_SLACK_BYTES);
  const shrinkYoungGeneration = youngGenerationShrinker();
  const quietSinceTick = quietness(everyMs);
  const quietSinceLook = quietness(BURST_LOOK_MS);
  let trimLater: NodeJS.Timeout | undefined;
  let inBurst = false;
  const giveBackPages = () => {
    releaseFreedHeap();
    if (logPagesFailed) return;
    try {
      releaseMappedPages(log.path);
    } catch (err) {
      logPagesFailed = true;
      warn(`the log's mapped pages cannot be released: ${(err as Error).message}`);
    }
  };
  const giveBackAfter = (collected: boolean) => {
    // V8 frees a dead Buffer's memory on a sweeper task after the collection: trim once more then
    if (collected && !trimLater) trimLater = setTimeout(() => ((trimLater = undefined), releaseFreedHeap()), SWEEP_MS).unref();
    giveBackPages();
  };
  const release = () => giveBackAfter(collect());
  // V8 shrinks its young generation only at a collection after seconds of little allocation
  const tick = () => (quietSinceTick() ? giveBackAfter(shrinkYoungGeneration() || collect()) : giveBackPages());
  const look = () => {
    const quiet = quietSinceLook();
    if (quiet && inBurst) giveBackAfter(collect(BURST_GARBAGE_BYTES));
    inBurst = !quiet;
  };
  const timers = [setInterval(tick, everyMs).unref(), setInterval(look, BURST_LOOK_MS).unref()];
  return {
    release,
    stop: () => {
      timers.forEach(clearInterval);
      clearTimeout(trimLater);
    },
  };
}
