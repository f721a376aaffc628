import type { EventLog } from '../log/index.js';
import { garbageCollector, youngGenerationShrinker } from '../util/collect-garbage.js';
import { releaseFreedHeap } from '../util/malloc-trim.js';
import { releaseMappedPages } from '../util/mapped-file.js';

const GARBAGE_SLACK_BYTES = 16 * 1024 * 1024;
const SWEEP_MS = 500;
/** The share of one core below which the daemon counts as quiet over an interval. */
const QUIET_CPU_SHARE = 0.02;

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
 * - The young generation V8 grew during a burst (start-up above all: ~30 MiB) goes back once the
 *   daemon has been quiet for an interval.
 */
export function releaseMemoryEvery(log: EventLog, everyMs: number, warn: (message: string) => void): { release(): void; stop(): void } {
  let logPagesFailed = false;
  const collect = garbageCollector(GARBAGE_SLACK_BYTES);
  const shrinkYoungGeneration = youngGenerationShrinker();
  let cpuAtLastTick = process.cpuUsage();
  let trimLater: NodeJS.Timeout | undefined;
  const release = () => {
    // V8 frees a dead Buffer's memory on a sweeper task after the collection: trim once more then
    if (collect() && !trimLater) trimLater = setTimeout(() => ((trimLater = undefined), releaseFreedHeap()), SWEEP_MS).unref();
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
    const cpu = process.cpuUsage(cpuAtLastTick);
    cpuAtLastTick = process.cpuUsage();
    if ((cpu.user + cpu.system) / 1000 < everyMs * QUIET_CPU_SHARE) shrinkYoungGeneration();
    release();
  };
  const timer = setInterval(tick, everyMs).unref();
  return {
    release,
    stop: () => {
      clearInterval(timer);
      clearTimeout(trimLater);
    },
  };
}
