// Event delivery through the daemon: 100 gRPC Events.Subscribe streams (each its own channel),
// namespaces created one at a time; latency from the Create call to each subscriber's receipt.
// Also the daemon's CPU time per event (all subscribers' deliveries included), which the load of
// a shared machine does not skew as it does latencies. The first --warmup events (default 50) are
// sent and delivered before anything is measured: both the client's and a fresh daemon's code are
// cold then (the very first event takes tens of ms to reach every subscriber, with containerd too),
// which would otherwise be a third of the p99 samples; how long that first event took is printed.
// Usage: node dist/bench/events.js [--subscribers N] [--events N] [--warmup N] [--address SOCKET [--pid PID]]
//   --address: measure a daemon that is already running (e.g. real containerd, whose --pid gives
//   the CPU figure) instead of a fresh ledgerd.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Connection } from '../src/cli/grpc-client.js';
import { decodeMessage } from '../src/api/proto.js';
import { percentile, report } from './report.js';

const { values } = parseArgs({
  options: { subscribers: { type: 'string', default: '100' }, events: { type: 'string', default: '300' }, warmup: { type: 'string', default: '50' }, address: { type: 'string' }, pid: { type: 'string' } },
});
const SUBSCRIBERS = Number(values.subscribers);
const EVENTS = Number(values.events);
const WARMUP = Number(values.warmup);
const dir = mkdtempSync(join(tmpdir(), 'ledgerd-bench-events-'));
const address = values.address ?? join(dir, 'ledgerd.sock');
const daemon = values.address
  ? undefined
  : spawn(process.execPath, [fileURLToPath(new URL('../../bin/ledgerd', import.meta.url)), '--root', join(dir, 'root'), '--state', join(dir, 'state'), '-a', address], {
  stdio: 'ignore',
});

const listening = () => new Promise<boolean>((resolve) => connect(address).once('connect', function (this: import('node:net').Socket) { this.destroy(); resolve(true); }).once('error', () => resolve(false)));
try {
  while (!(await listening())) await new Promise((r) => setTimeout(r, 50));
  const sent = new Map<string, { at: bigint; measured: boolean }>();
  const latencies: number[] = [];
  let delivered = 0;
  let firstEventLast = 0;
  const connections = Array.from({ length: SUBSCRIBERS }, () => new Connection(address, 'default'));
  const streams = connections.map((c) => {
    const stream = c.stream<{ event: { value: Buffer } }>('containerd.services.events.v1.Events', 'Subscribe', { filters: ['topic=="/namespaces/create"'] });
    stream.on('data', (envelope) => {
      const name = String(decodeMessage('containerd.events.NamespaceCreate', envelope.event.value).name);
      const { at, measured } = sent.get(name)!;
      const latency = Number(process.hrtime.bigint() - at) / 1e6;
      if (measured) latencies.push(latency);
      else if (name.endsWith('-0')) firstEventLast = Math.max(firstEventLast, latency);
      delivered++;
    });
    stream.on('error', () => {});
    return stream;
  });
  await new Promise((r) => setTimeout(r, 1000));
  const client = new Connection(address, 'default');
  const daemonPid = daemon?.pid ?? (values.pid ? Number(values.pid) : undefined);
  // utime + stime, in clock ticks (100 a second)
  const cpuTicks = () => (daemonPid ? readFileSync(`/proc/${daemonPid}/stat`, 'utf8').split(') ')[1]!.split(' ').slice(11, 13).reduce((a, b) => a + Number(b), 0) : 0);
  let cpuBefore = cpuTicks();
  for (let i = 0; i < WARMUP + EVENTS; i++) {
    if (i === WARMUP) cpuBefore = cpuTicks();
    const name = `bench-${process.pid}-${i}`;
    sent.set(name, { at: process.hrtime.bigint(), measured: i >= WARMUP });
    await client.unary('containerd.services.namespaces.v1.Namespaces', 'Create', { namespace: { name } });
    while (delivered < (i + 1) * SUBSCRIBERS) await new Promise((r) => setImmediate(r));
  }
  const cpuMs = (cpuTicks() - cpuBefore) * 10;
  latencies.sort((a, b) => a - b);
  const prefix = values.address ? 'reference_' : '';
  if (WARMUP > 0) report(`${prefix}first_event_to_all_${SUBSCRIBERS}_subscribers`, firstEventLast, 'ms');
  if (daemonPid) report(`${prefix}daemon_cpu_per_event_${SUBSCRIBERS}_subscribers`, cpuMs / EVENTS, 'ms');
  report(`${prefix}grpc_event_delivery_p50_${SUBSCRIBERS}_subscribers`, percentile(latencies, 50), 'ms');
  report(`${prefix}grpc_event_delivery_p99_${SUBSCRIBERS}_subscribers`, percentile(latencies, 99), 'ms');
  streams.forEach((s) => s.cancel());
  connections.forEach((c) => c.close());
  client.close();
} finally {
  daemon?.kill('SIGTERM');
  if (daemon) await new Promise((r) => daemon.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
}
