import { nowNs, retentionCut, type EventLog } from '../log/index.js';
import type { ProjectionSet } from '../projections/index.js';
import type { Logger } from './logger.js';

/**
 * Applies the log's retention policy every `everyMs`: records it no longer keeps in LMDB move to
 * the archive, but never past the oldest projection checkpoint, so start-up still replays only
 * from LMDB and stays bounded. Returns how to run it now and how to stop it.
 */
export function applyRetentionEvery(log: EventLog, projections: ProjectionSet, everyMs: number, logger: Logger): { run(): Promise<void>; stop(): Promise<void> } {
  const policy = log.retention;
  let running: Promise<void> | undefined;
  const run = () =>
    (running ??= (async () => {
      if (!policy) return;
      const cut = Math.min(retentionCut(log, policy, nowNs()), projections.oldestCheckpoint());
      const moved = await log.archiveThrough(cut);
      if (moved > 0) logger.info(`log retention: ${moved} records archived, LMDB holds ${log.stored().first}..${log.head}`);
    })()
      .catch((err: Error) => logger.warn(`log retention: ${err.message}`))
      .finally(() => (running = undefined)));
  const timer = policy ? setInterval(() => void run(), everyMs).unref() : undefined;
  return {
    run,
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}
