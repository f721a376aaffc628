// Durable append cost: appends/s, latency p50/p99 and CPU per append for 1 and 4 concurrent
// appenders, each append one event as a command makes it; beside them the floor the disk sets, a
// 4 KiB write + fdatasync on the same filesystem (an LMDB commit makes two synced writes: its pages,
// then its meta page). --busy MS keeps the event loop busy
// MS of every 10 ms (as a daemon serving clients is), to show what the loop's load does to an append.
// --gap-ms MS waits MS before each append and each probe write (as between a client's calls): on an
// idle VM the wake-ups and the disk's flush cost several times what they cost back to back.
// Usage: node dist/bench/log-append.js [--seconds S] [--busy MS] [--gap-ms MS]
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { EventLog } from '../src/log/index.js';
import { percentile, report, seconds } from './report.js';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '3' }, busy: { type: 'string', default: '0' }, 'gap-ms': { type: 'string', default: '0' } },
});
const DURATION_MS = Number(values.seconds) * 1000;
const BUSY_MS = Number(values.busy);
const GAP_MS = Number(values['gap-ms']);
const SUFFIX = `${BUSY_MS > 0 ? `_busy_${BUSY_MS}ms` : ''}${GAP_MS > 0 ? `_gap_${GAP_MS}ms` : ''}`;

function keepLoopBusy(): () => void {
  if (BUSY_MS <= 0) return () => undefined;
  const timer = setInterval(() => {
    const until = performance.now() + BUSY_MS;
    while (performance.now() < until);
  }, 10);
  return () => clearInterval(timer);
}

async function appenders(count: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ledgerd-append-'));
  const log = EventLog.open({ dir });
  const latencies: number[] = [];
  const stopBusy = keepLoopBusy();
  const until = Date.now() + DURATION_MS;
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: count }, async (_, appender) => {
      for (let i = 0; Date.now() < until; i++) {
        if (GAP_MS > 0) await sleep(GAP_MS);
        const t = performance.now();
        await log.append([{
          namespace: 'bench',
          stream: `containers/a${appender}-${i % 100}`,
          type: 'ContainerUpdated',
          payload: { id: `a${appender}-${i % 100}`, labels: { n: String(i) }, image: 'docker.io/library/busybox:latest' },
        }]);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const elapsed = seconds(start);
  const used = process.cpuUsage(cpu);
  stopBusy();
  latencies.sort((a, b) => a - b);
  const name = `append_${count}_appenders${SUFFIX}`;
  if (GAP_MS <= 0) report(`${name}_rate`, Math.round(latencies.length / elapsed), 'appends/s');
  report(`${name}_p50`, percentile(latencies, 50), 'ms');
  report(`${name}_p99`, percentile(latencies, 99), 'ms');
  // with --busy the process's CPU is mostly the busy loop's
  if (BUSY_MS <= 0) report(`${name}_cpu`, (used.user + used.system) / 1000 / latencies.length, 'ms/append');
  await log.close();
  rmSync(dir, { recursive: true, force: true });
}

async function syncFloor(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ledgerd-append-'));
  const fd = openSync(join(dir, 'probe'), 'w');
  const page = Buffer.alloc(4096, 1);
  const latencies: number[] = [];
  for (let i = 0; i < 200; i++) {
    if (GAP_MS > 0) await sleep(GAP_MS);
    writeSync(fd, page, 0, page.length, 0);
    const t = performance.now();
    fdatasyncSync(fd);
    latencies.push(performance.now() - t);
  }
  closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
  latencies.sort((a, b) => a - b);
  report(`fdatasync_4k${SUFFIX}_p50`, percentile(latencies, 50), 'ms');
  report(`fdatasync_4k${SUFFIX}_p99`, percentile(latencies, 99), 'ms');
}

await syncFloor();
await appenders(1);
await appenders(4);
