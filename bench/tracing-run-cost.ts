// What tracing costs a `ctr run --rm`: the daemon's CPU time per run (utime + stime from /proc)
// and the run's wall time, for a daemon without tracing and one sending every span (sampling 1)
// to an OTLP/HTTP receiver in this process that accepts and drops them. Rounds alternate.
//   node dist/bench/tracing-run-cost.js [--runs N] [--rounds N] [--port 5143]
import { execFile, execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { harnessImages } from '../test/helpers/harness-services.js';
import { median, report } from './report.js';
import { startLedgerd, type BenchLedgerd } from './services.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '20' }, rounds: { type: 'string', default: '3' }, port: { type: 'string', default: '5143' } } });
const RUNS = Number(values.runs);
const NS = `bench-tracing-${process.pid}`;
const IMAGE = `127.0.0.1:${values.port}/busybox:latest`;
const REGISTRY = fileURLToPath(new URL('../../../shared/harness/registry.sh', import.meta.url));
const run = promisify(execFile);
const ctr = (socket: string, ...args: string[]) => run('ctr', ['-a', socket, '-n', NS, ...args]);

/** The process's CPU time so far, in ms (utime + stime, in clock ticks of 10 ms). */
const cpuMs = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
};

async function runs(daemon: BenchLedgerd, round: number): Promise<{ cpu: number; wall: number }> {
  const cpuBefore = cpuMs(daemon.pid);
  const started = process.hrtime.bigint();
  for (let i = 0; i < RUNS; i++) await ctr(daemon.socket, 'run', '--rm', IMAGE, `run-${round}-${i}`, 'true');
  return { cpu: (cpuMs(daemon.pid) - cpuBefore) / RUNS, wall: Number(process.hrtime.bigint() - started) / 1e6 / RUNS };
}

let received = 0;
const receiver = createServer((req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    received++;
    res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
  });
});
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;

const dir = mkdtempSync(join(tmpdir(), 'ledgerd-bench-tracing-'));
execFileSync('bash', [REGISTRY, 'start', join(dir, 'registry'), harnessImages()], { env: { ...process.env, REGISTRY_PORT: values.port! }, stdio: ['ignore', 'ignore', 'inherit'] });
const daemons: Record<'off' | 'on', BenchLedgerd | undefined> = { off: undefined, on: undefined };
try {
  daemons.off = await startLedgerd(join(dir, 'off'));
  daemons.on = await startLedgerd(join(dir, 'on'), `version = 2\n[plugins."io.containerd.tracing.processor.v1.otlp"]\n  endpoint = "${endpoint}"\n`);
  for (const daemon of [daemons.off, daemons.on]) await ctr(daemon.socket, 'images', 'pull', '--plain-http', IMAGE);
  const figures = { off: [] as { cpu: number; wall: number }[], on: [] as { cpu: number; wall: number }[] };
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const mode of round % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) figures[mode].push(await runs(daemons[mode]!, round));
  }
  for (const mode of ['off', 'on'] as const) {
    report(`tracing_${mode}.daemon_cpu_per_run`, median(figures[mode].map((f) => f.cpu)), 'ms');
    report(`tracing_${mode}.wall_per_run`, median(figures[mode].map((f) => f.wall)), 'ms');
  }
  report('tracing_on.export_requests', received, 'requests');
} finally {
  await daemons.off?.stop();
  await daemons.on?.stop();
  execFileSync('bash', [REGISTRY, 'stop', join(dir, 'registry')], { stdio: 'ignore' });
  receiver.close();
  rmSync(dir, { recursive: true, force: true });
}
