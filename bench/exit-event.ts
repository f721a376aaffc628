// Time from a container's exit to its /tasks/exit event at a subscriber, ledgerd and real
// containerd 1.6 side by side in one run: `ctr events` subscribes; detached busybox containers
// (`ctr run -d … sh -c 'sleep 0.2; exit 3'`) exit on their own; each /tasks/exit line is
// stamped on arrival and compared with the event's own exited_at (the shim's reaping time).
// Usage: node dist/bench/exit-event.js [--samples 20] [--port 5142]   (root)
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { harnessImages } from '../test/helpers/harness-services.js';
import { median, percentile, report } from './report.js';
import { startServices } from './services.js';

const { values } = parseArgs({ options: { samples: { type: 'string', default: '20' }, port: { type: 'string', default: '5142' } } });
const SAMPLES = Number(values.samples);
const NS = `bench-exit-${process.pid}`;
const IMAGE = `127.0.0.1:${values.port}/busybox:latest`;
const ctr = (socket: string, ...args: string[]) => execFileSync('ctr', ['-a', socket, '-n', NS, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });

/** RFC 3339 with nanoseconds, as ctr prints exited_at, to epoch milliseconds (fractional). */
function epochMs(text: string): number {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(text);
  if (!m) throw new Error(`not an RFC 3339 UTC time: ${text}`);
  return Date.parse(`${m[1]}Z`) + Number(`0.${m[2] ?? '0'}`) * 1000;
}

/** Subscribes with `ctr events`; resolves each awaited container's exit event with its delay. */
function subscribe(socket: string) {
  const child = spawn('ctr', ['-a', socket, 'events'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const waiting = new Map<string, (delayMs: number) => void>();
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const arrived = performance.timeOrigin + performance.now();
    if (!line.includes(' /tasks/exit ')) return;
    const event = JSON.parse(line.slice(line.indexOf('{'))) as { container_id: string; exited_at: string };
    waiting.get(event.container_id)?.(arrived - epochMs(event.exited_at));
  });
  return {
    exitOf: (id: string) => new Promise<number>((resolve) => waiting.set(id, resolve)),
    close: () => child.kill(),
  };
}

const dir = mkdtempSync(join(tmpdir(), 'ledgerd-bench-exit-'));
const services = await startServices(dir, values.port!, harnessImages());
const daemons = [['containerd', services.containerd.socket], ['ledgerd', services.ledgerd.socket]] as const;
try {
  const subscribers = Object.fromEntries(daemons.map(([name, socket]) => [name, subscribe(socket)]));
  for (const [, socket] of daemons) ctr(socket, 'images', 'pull', '--plain-http', IMAGE);
  await new Promise((resolve) => setTimeout(resolve, 500));
  const delays: Record<string, number[]> = { containerd: [], ledgerd: [] };
  for (let i = 0; i < SAMPLES; i++) {
    for (const [name, socket] of daemons) {
      const id = `exit-${i}`;
      const exited = subscribers[name]!.exitOf(id);
      ctr(socket, 'run', '-d', IMAGE, id, 'sh', '-c', 'sleep 0.2; exit 3');
      delays[name]!.push(await exited);
      ctr(socket, 'tasks', 'delete', id);
      ctr(socket, 'containers', 'rm', id);
    }
  }
  for (const [name] of daemons) {
    const sorted = [...delays[name]!].sort((a, b) => a - b);
    report(`${name}.exit_to_event_median`, median(sorted), 'ms');
    report(`${name}.exit_to_event_p90`, percentile(sorted, 90), 'ms');
  }
  for (const subscriber of Object.values(subscribers)) subscriber.close();
  for (const [, socket] of daemons) {
    ctr(socket, 'images', 'rm', '--sync', IMAGE);
    execFileSync('ctr', ['-a', socket, 'namespaces', 'rm', NS], { stdio: 'ignore' });
  }
} finally {
  await services.stop();
  rmSync(dir, { recursive: true, force: true });
}
