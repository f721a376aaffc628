// ledgerd and real containerd 1.6 measured by the same script, in the same run, on the same
// machine: ../shared/harness/bench.sh (the real `ctr` pulling the `layered` image, `ctr run --rm`
// latency, 50-container throughput, RSS with 10 containers, event delivery) against each daemon,
// alternating, both serving images from one local registry.
// Usage: node dist/bench/side-by-side.js [--rounds N] [--port PORT]   (root; env knobs of bench.sh pass through)
// Prints "name value unit" per daemon and figure ("ledgerd.<figure>", "containerd.<figure>") and
// "ratio.<figure>" = ledgerd / containerd of the medians over the rounds.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { report } from './report.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '1' }, port: { type: 'string', default: '5140' } } });
const HARNESS = fileURLToPath(new URL('../../../shared/harness/', import.meta.url));
const LEDGERD = fileURLToPath(new URL('../../bin/ledgerd', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'ledgerd-bench-side-'));
const registryEnv = { ...process.env, REGISTRY_PORT: values.port! };
const harness = (script: string, ...args: string[]) =>
  execFileSync('bash', [join(HARNESS, script), ...args], { encoding: 'utf8', env: registryEnv, stdio: ['ignore', 'pipe', 'inherit'] });

const listening = (address: string) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(address);
    socket.once('connect', () => (socket.destroy(), resolve(true))).once('error', () => resolve(false));
  });

/** The figures bench.sh printed (those before a step that failed, if one did). */
function benchOnce(socket: string): Map<string, { value: number; unit: string }> {
  let out: string;
  try {
    out = execFileSync('bash', [join(HARNESS, 'bench.sh'), socket], {
      encoding: 'utf8',
      env: { ...registryEnv, REGISTRY: `127.0.0.1:${values.port}` },
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 1 << 24,
    });
  } catch (err) {
    out = String((err as { stdout?: string }).stdout ?? '');
    process.stderr.write(`bench.sh against ${socket} failed part-way: ${(err as Error).message.split('\n')[0]}\n`);
  }
  const figures = new Map<string, { value: number; unit: string }>();
  for (const line of out.split('\n')) {
    const [name, value, unit] = line.trim().split(/\s+/);
    if (name && value !== undefined && !Number.isNaN(Number(value))) figures.set(name, { value: Number(value), unit: unit ?? '' });
  }
  return figures;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const ledgerdSocket = join(dir, 'ledgerd.sock');
const ledgerd = spawn(process.execPath, [LEDGERD, '--root', join(dir, 'ledgerd-root'), '--state', join(dir, 'ledgerd-state'), '-a', ledgerdSocket], { stdio: 'ignore' });
try {
  harness('registry.sh', 'start', join(dir, 'registry'));
  const containerdSocket = harness('containerd-ref.sh', 'start', join(dir, 'containerd')).trim();
  while (!(await listening(ledgerdSocket))) await new Promise((resolve) => setTimeout(resolve, 50));

  const runs: Record<'ledgerd' | 'containerd', Map<string, { value: number; unit: string }>[]> = { ledgerd: [], containerd: [] };
  for (let round = 0; round < Number(values.rounds); round++) {
    // alternate who goes first, so neither always gets the warmer page cache
    const order = round % 2 === 0 ? (['containerd', 'ledgerd'] as const) : (['ledgerd', 'containerd'] as const);
    for (const daemon of order) runs[daemon].push(benchOnce(daemon === 'ledgerd' ? ledgerdSocket : containerdSocket));
  }
  const names = [...new Set(runs.containerd.flatMap((figures) => [...figures.keys()]))];
  for (const name of names) {
    const of = (daemon: 'ledgerd' | 'containerd') => runs[daemon].map((figures) => figures.get(name)?.value).filter((v): v is number => v !== undefined);
    const unit = runs.containerd[0]!.get(name)!.unit;
    const [mine, theirs] = [of('ledgerd'), of('containerd')];
    if (mine.length) report(`ledgerd.${name}`, median(mine), unit);
    report(`containerd.${name}`, median(theirs), unit);
    if (mine.length && median(theirs) !== 0) report(`ratio.${name}`, median(mine) / median(theirs), 'x');
  }
} finally {
  try {
    harness('containerd-ref.sh', 'stop', join(dir, 'containerd'));
  } finally {
    harness('registry.sh', 'stop', join(dir, 'registry'));
    ledgerd.kill('SIGTERM');
    await new Promise((resolve) => ledgerd.once('exit', resolve));
    rmSync(dir, { recursive: true, force: true });
  }
}
