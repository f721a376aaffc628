import type { EventLog } from '../log/index.js';
import { releaseMappedPages } from '../util/mapped-file.js';

/**
 * LMDB maps the log's file, and every page a replay, a verify, a reader or an append touches
 * stays in the daemon's resident set: left alone, the daemon's RSS grows with the log (by about
 * 1.5 times the bytes appended). Every `everyMs` the daemon gives those pages back to the page
 * cache, so its memory follows what it holds, not how long the log is.
 */
export function releaseLogPagesEvery(log: EventLog, everyMs: number, warn: (message: string) => void): { release(): void; stop(): void } {
  let failed = false;
  const release = () => {
    if (failed) return;
    try {
      releaseMappedPages(log.path);
    } catch (err) {
      failed = true;
      warn(`the log's mapped pages cannot be released: ${(err as Error).message}`);
    }
  };
  const timer = setInterval(release, everyMs).unref();
  return { release, stop: () => clearInterval(timer) };
}
