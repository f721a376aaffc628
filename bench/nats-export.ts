// The NATS JetStream export in one process with the log, against a real nats-server on 127.0.0.1:
// catch-up of a filled log (records/s, this process's CPU per record), and durable appends with 64
// appenders alone and while the export follows them (the export shares the daemon's event loop).
// Usage: node dist/bench/nats-export.js [--records N] [--seconds S]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { EventLog } from '../src/log/index.js';
import { NatsExporter } from '../src/export/nats-exporter.js';
import { report, seconds } from './report.js';

const { values } = parseArgs({ options: { records: { type: 'string', default: '50000' }, seconds: { type: 'string', default: '5' } } });
const RECORDS = Number(values.records);
const DURATION_MS = Number(values.seconds) * 1000;
const root = mkdtempSync(join(tmpdir(), 'ledgerd-bench-nats-'));

const event = (i: number) => ({
  namespace: 'bench',
  stream: `containers/c${i % 1000}`,
  type: 'ContainerUpdated',
  payload: { id: `c${i % 1000}`, labels: { n: String(i) }, image: 'docker.io/library/busybox:latest' },
});

async function natsServer(): Promise<{ url: string; stop(): void }> {
  const server = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', '-1', '-sd', join(root, 'nats')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    server.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const m = /Listening for client connections on 127\.0\.0\.1:(\d+)/.exec(output);
      if (m && /Server is ready/.test(output)) resolve(Number(m[1]));
    });
    server.once('exit', () => reject(new Error(output)));
  });
  // also when this process ends early (a closed stdout pipe ends it before its finally)
  const stop = () => server.kill();
  process.once('exit', stop);
  return { url: `nats://127.0.0.1:${port}`, stop };
}

function exporterOf(log: EventLog, url: string, stream: string): NatsExporter {
  return new NatsExporter(
    log,
    { recorded: () => 0, record: async () => undefined },
    {
      connection: { servers: url },
      node: 'bench',
      stream,
      subjectPrefix: `bench-${stream}`,
      createStream: true,
      duplicateWindowMs: 120_000,
      maxInFlight: 256,
      ackTimeoutMs: 5000,
      positionIntervalMs: 3_600_000,
      retryMs: 100,
      positionType: 'ExportPosition',
      warn: (m) => process.stderr.write(`${m}\n`),
    },
  );
}

async function waitCaughtUp(exporter: NatsExporter, log: EventLog): Promise<void> {
  while (exporter.status().acked < log.head) await new Promise((resolve) => setTimeout(resolve, 5));
}

async function appendFor(log: EventLog, appenders: number, ms: number): Promise<number> {
  let n = 0;
  const until = Date.now() + ms;
  await Promise.all(
    Array.from({ length: appenders }, async () => {
      while (Date.now() < until) await log.append([event(n++)]);
    }),
  );
  return n;
}

const nats = await natsServer();
try {
  // catch-up: a log of RECORDS records, exported from the start
  const filled = EventLog.open({ dir: join(root, 'filled') });
  for (let i = 0; i < RECORDS; i += 1000) await filled.append(Array.from({ length: Math.min(1000, RECORDS - i) }, (_, j) => event(i + j)));
  const catchUp = exporterOf(filled, nats.url, 'CATCHUP');
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  catchUp.start();
  await waitCaughtUp(catchUp, filled);
  const elapsed = seconds(start);
  const used = process.cpuUsage(cpu);
  report('export_catch_up', Math.round(RECORDS / elapsed), 'records/s');
  report('export_cpu_per_record', (used.user + used.system) / RECORDS, 'µs');
  await catchUp.close();
  await filled.close();

  // appends alone, then with the export following them
  const live = EventLog.open({ dir: join(root, 'live') });
  const alone = await appendFor(live, 64, DURATION_MS);
  report('append_64_appenders_no_export', Math.round(alone / (DURATION_MS / 1000)), 'events/s');
  const following = exporterOf(live, nats.url, 'LIVE');
  following.start();
  await waitCaughtUp(following, live);
  const withExport = await appendFor(live, 64, DURATION_MS);
  report('append_64_appenders_with_export', Math.round(withExport / (DURATION_MS / 1000)), 'events/s');
  report('export_lag_after_appends', live.head - following.status().acked, 'records');
  const drained = process.hrtime.bigint();
  await waitCaughtUp(following, live);
  report('export_drain_after_appends', seconds(drained), 's');
  await following.close();
  await live.close();
} finally {
  nats.stop();
  rmSync(root, { recursive: true, force: true });
}
