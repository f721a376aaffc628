// Log and projection figures: durable append throughput, replay rate, start-up time with a
// 1,000,000-event log (with and without a checkpoint), tail delivery latency with 100 subscribers.
// Usage: node dist/bench/log.js [--events N] [--dir DIR]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { EventLog, nowNs } from '../src/log/index.js';
import { ProjectionSet, namespacesProjection, type Projection } from '../src/projections/index.js';
import { upcast } from '../src/events/index.js';
import { percentile, report, seconds } from './report.js';

const { values } = parseArgs({ options: { events: { type: 'string', default: '1000000' }, dir: { type: 'string' } } });
const TOTAL = Number(values.events);
const root = values.dir ?? mkdtempSync(join(tmpdir(), 'ledgerd-bench-'));

/** A read model of the size a daemon keeps: one entry per container-like stream. */
const streamsProjection: Projection<Record<string, number>> = {
  name: 'bench-streams',
  version: 1,
  initial: () => ({}),
  evolve(state, record) {
    state[record.stream] = record.version;
    return state;
  },
};

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

/** Opens the log and starts the projections as the daemon does; returns the seconds it took. */
async function startUp(dir: string, checkpoint: boolean): Promise<{ elapsed: number; replayed: number }> {
  const start = process.hrtime.bigint();
  const log = EventLog.open({ dir, upcast });
  const set = new ProjectionSet(log);
  set.add(namespacesProjection);
  set.add(streamsProjection);
  const reports = set.start();
  const elapsed = seconds(start);
  const replayed = Math.max(...reports.map((r) => r.replayed));
  if (checkpoint) await set.stop();
  await log.close();
  return { elapsed, replayed };
}

/** Median of three start-ups: single runs on a shared 2-core machine vary by a third. */
async function startUpFigures(dir: string): Promise<void> {
  const cold: { elapsed: number; replayed: number }[] = [];
  for (let i = 0; i < 3; i++) cold.push(await startUp(dir, false));
  cold.sort((a, b) => a.elapsed - b.elapsed);
  const median = cold[1]!;
  report(`startup_without_checkpoint_${TOTAL}_events`, median.elapsed, 's');
  report('replay_rate', Math.round(median.replayed / median.elapsed), 'events/s');
  await startUp(dir, true); // leaves checkpoints at the head
  const warm: number[] = [];
  for (let i = 0; i < 3; i++) warm.push((await startUp(dir, false)).elapsed);
  warm.sort((a, b) => a - b);
  report(`startup_with_checkpoint_${TOTAL}_events`, warm[1]!, 's');
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
  await startUpFigures(big);

  await tailLatency(100, 1000);
} finally {
  if (!values.dir) rmSync(root, { recursive: true, force: true });
}
