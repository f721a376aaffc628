// One start-up of the log and two projections as the daemon does it (open, checkpoint load,
// replay, then the mapped pages handed back), in a process of its own so that its memory is
// the start-up's: prints "elapsed_s replayed rss_kb anon_kb". Used by bench/log.ts.
// Usage: node dist/bench/log-startup.js DIR [--checkpoint]
import { readFileSync } from 'node:fs';
import { EventLog } from '../src/log/index.js';
import { ProjectionSet, namespacesProjection } from '../src/projections/index.js';
import { upcast } from '../src/events/index.js';
import { releaseMappedPages } from '../src/util/mapped-file.js';
import { streamsProjection } from './log-projection.js';

const [dir, flag] = process.argv.slice(2);
const start = process.hrtime.bigint();
const log = EventLog.open({ dir: dir!, upcast });
const set = new ProjectionSet(log);
set.add(namespacesProjection);
set.add(streamsProjection);
const reports = set.start();
const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
releaseMappedPages(log.path);
global.gc?.();
const status = readFileSync('/proc/self/status', 'utf8');
const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)![1]);
process.stdout.write(`${elapsed} ${Math.max(...reports.map((r) => r.replayed))} ${kb('VmRSS')} ${kb('RssAnon')}\n`);
if (flag === '--checkpoint') await set.stop();
await log.close();
