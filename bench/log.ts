// Log and projection figures: durable append throughput, replay rate, start-up time and RSS with
// a 1,000,000-event log (with and without a checkpoint, each start-up in a process of its own),
// retention (archive rate and bytes, start-up and a replay from the archive once all but the
// head is archived), tail delivery latency with 100 subscribers.
// Usage: node dist/bench/log.js [--events N] [--dir DIR]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { EventLog, nowNs } from '../src/log/index.js';
import { streamsProjection } from './log-projection.js';
import { percentile, report, seconds } from './report.js';

const { values } = parseArgs({ options: { events: { type: 'string', default: '1000000' }, dir: { type: 'string' } } });
const TOTAL = Number(values.events);
const root = values.dir ?? mkdtempSync(join(tmpdir(), 'ledgerd-bench-'));


const event = (i: number) => ({
  namespace: 'bench',
  stream: `containers/c${i % 10_000}`,
  type: 'ContainerUpdated',
  payload: { id: `c${i % 10_000}`, labels: { n: String(i) }, image: 'docker.io/library/busybox:latest' },
});

async function appendThroughput(appenders: number, durationMs: number): Promise<void> {
  const dir = join(root, `append-${appenders}`);
  const log = EventLog.open({ dir });
  let events = 0;
  const until = Date.now() + durationMs;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: appenders }, async () => {
      while (Date.now() < until) {
        await log.append([event(events)]);
        events++;
      }
    }),
  );
  report(`append_durable_${appenders}_appenders`, Math.round(events / seconds(start)), 'events/s');
  await log.close();
  rmSync(dir, { recursive: true, force: true });
}

async function fillLog(dir: string, total: number): Promise<void> {
  const log = EventLog.open({ dir });
  const batch = 1000;
  const start = process.hrtime.bigint();
  for (let i = 0; i < total; i += batch) {
    await log.append(Array.from({ length: Math.min(batch, total - i) }, (_, j) => event(i + j)));
  }
  report('fill_batched_1000', Math.round(total / seconds(start)), 'events/s');
  await log.close();
}

const STARTUP = fileURLToPath(new URL('./log-startup.js', import.meta.url));

interface StartUp {
  elapsed: number;
  replayed: number;
  rssKb: number;
  anonKb: number;
}

/** One start-up as the daemon does it, in a process of its own (bench/log-startup.ts). */
function startUp(dir: string, checkpoint: boolean): StartUp {
  const out = execFileSync(process.execPath, ['--expose-gc', STARTUP, dir, ...(checkpoint ? ['--checkpoint'] : [])], { encoding: 'utf8' });
  const [elapsed, replayed, rssKb, anonKb] = out.trim().split(' ').map(Number);
  return { elapsed: elapsed!, replayed: replayed!, rssKb: rssKb!, anonKb: anonKb! };
}

/** Median of three start-ups: single runs on a shared 2-core machine vary by a third. */
function medianStartUp(dir: string): StartUp {
  const runs = [startUp(dir, false), startUp(dir, false), startUp(dir, false)].sort((a, b) => a.elapsed - b.elapsed);
  return runs[1]!;
}

function startUpFigures(dir: string, label: string): void {
  const cold = medianStartUp(dir);
  report(`startup_without_checkpoint_${label}`, cold.elapsed, 's');
  report(`startup_without_checkpoint_${label}_rss`, cold.rssKb / 1024, 'MiB');
  report(`replay_rate_${label}`, Math.round(cold.replayed / cold.elapsed), 'events/s');
  startUp(dir, true); // leaves checkpoints at the head
  const warm = medianStartUp(dir);
  report(`startup_with_checkpoint_${label}`, warm.elapsed, 's');
  report(`startup_with_checkpoint_${label}_rss`, warm.rssKb / 1024, 'MiB');
  report(`startup_with_checkpoint_${label}_rss_anon`, warm.anonKb / 1024, 'MiB');
}

/** Retention: everything but the head moves to the archive; then start-up and a replay from the archive. */
async function retentionFigures(dir: string): Promise<void> {
  const log = EventLog.open({ dir });
  const lmdbBytes = statSync(log.path).size;
  const start = process.hrtime.bigint();
  const moved = await log.archiveThrough(log.head - 1);
  report('archive_rate', Math.round(moved / seconds(start)), 'events/s');
  const archived = log.archived().reduce((sum, segment) => sum + statSync(segment.path).size, 0);
  report('archive_bytes_per_event', archived / moved, 'B');
  report('lmdb_bytes_per_event', lmdbBytes / (moved + 1), 'B');
  const replay = process.hrtime.bigint();
  let read = 0;
  for (const _ of log.read(1)) read++;
  report('replay_rate_from_archive', Math.round(read / seconds(replay)), 'events/s');
  await log.close();
  const after = medianStartUp(dir);
  report(`startup_with_checkpoint_${TOTAL}_events_archived`, after.elapsed, 's');
  report(`startup_with_checkpoint_${TOTAL}_events_archived_rss`, after.rssKb / 1024, 'MiB');
}

/**
 * Two latencies per delivered record: from the append call (includes the group commit and its
 * fsync) and from the moment the record became durable (the tail's own cost).
 */
async function tailLatency(subscribers: number, events: number): Promise<void> {
  const dir = join(root, 'tail');
  const log = EventLog.open({ dir });
  const durableAt = new Map<number, bigint>();
  const heads = log.head$.subscribe((head) => durableAt.set(head, nowNs()));
  const fromAppend: number[] = [];
  const fromDurable: number[] = [];
  const subscriptions = Array.from({ length: subscribers }, () =>
    log.tail$(1).subscribe((record) => {
      const now = nowNs();
      fromAppend.push(Number(now - record.time) / 1e6);
      fromDurable.push(Number(now - durableAt.get(record.seq)!) / 1e6);
    }),
  );
  for (let i = 0; i < events; i++) {
    await log.append([event(i)]);
    await new Promise((r) => setTimeout(r, 1));
  }
  subscriptions.forEach((s) => s.unsubscribe());
  heads.unsubscribe();
  for (const [name, values] of [['append', fromAppend], ['durable', fromDurable]] as const) {
    values.sort((a, b) => a - b);
    report(`tail_latency_from_${name}_p50_${subscribers}_subscribers`, percentile(values, 50), 'ms');
    report(`tail_latency_from_${name}_p99_${subscribers}_subscribers`, percentile(values, 99), 'ms');
  }
  await log.close();
}

try {
  await appendThroughput(1, 2000);
  await appendThroughput(64, 3000);

  const big = join(root, 'big');
  await fillLog(big, TOTAL);
  startUpFigures(big, `${TOTAL}_events`);
  await retentionFigures(big);

  await tailLatency(100, 1000);
} finally {
  if (!values.dir) rmSync(root, { recursive: true, force: true });
}
