// The daemon's cost of one small gRPC call, from containerd's own Go client (bench/gocalls, what
// ctr is built on): N sequential unary calls on one connection per method, against
//   - ledgerd (bin/ledgerd of this checkout, or any number of others for an A/B: --ledgerd NAME=BIN),
//   - a bare grpc-js server (the same Version service from proto/, no interceptors, no router),
//   - a bare node:http2 server answering Version's frames by hand,
//   - a private containerd 1.6 (../shared/harness/containerd-ref.sh),
// and `ctr version` (a process, a connection, Version and Introspection.Server; not against the
// bare servers) for the end-to-end figure. The servers'
// CPU is the sum of their threads' run time (/proc/PID/task/*/schedstat), so the Go client's own
// CPU is not counted; rounds alternate the targets so load from elsewhere hits them alike.
//   node dist/bench/grpc-calls.js [--calls 3000] [--rounds 3] [--methods version,content.read,...]
//        [--ledgerd NAME=BIN]... [--no-containerd] [--no-bare] [--ctr 100] [--cpu-prof DIR] [--gap-us N]
// Methods: version, containers.get, images.get, content.info, content.read (the default set) and
// leases.create+delete (two durable mutations per "call"). --gap-us: the client idles N µs before
// each call, as a real client does between its calls (the latency then includes waking the server).
// Prints, per method and target, the medians over the rounds: "<target>.<method>.cpu µs" (server
// CPU per call) and "<target>.<method>.latency µs" (wall time per call as the client saw it), with
// the lowest round and every round.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type ServerHttp2Stream } from 'node:http2';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { encodeMessage, serviceDefinition } from '../src/api/proto.js';
import { versionService, VERSION_SERVICE } from '../src/services/version.js';
import { median, report } from './report.js';
import { startLedgerd } from './services.js';

const HARNESS = fileURLToPath(new URL('../../../shared/harness/', import.meta.url));
const GOCALLS_SOURCE = fileURLToPath(new URL('../../bench/gocalls/', import.meta.url));
const METHODS = ['version', 'containers.get', 'images.get', 'content.info', 'content.read'];

/** The bare servers, each in a child process of this script so that only its CPU is counted. */
async function serveBare(kind: string, socket: string): Promise<void> {
  if (kind === 'grpc-js') {
    const server = new Server();
    server.addService(serviceDefinition(VERSION_SERVICE), versionService());
    await new Promise<void>((resolve, reject) => server.bindAsync(`unix:${socket}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
  } else {
    const body = encodeMessage('containerd.services.version.v1.VersionResponse', { version: '1.6.20+bare', revision: 'bare' });
    const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), body]);
    frame.writeUInt32BE(body.length, 1);
    const server = createServer();
    server.on('stream', (stream: ServerHttp2Stream) => {
      stream.resume();
      stream.on('end', () => {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(frame);
      });
    });
    await new Promise<void>((resolve) => server.listen(socket, resolve));
  }
  process.stdout.write('ready\n');
}

interface Target {
  readonly name: string;
  readonly socket: string;
  readonly pid: number;
  /** Only Version (the bare servers). */
  readonly versionOnly: boolean;
  stop(): Promise<void>;
}

/** Nanoseconds of CPU the process's live threads have run. */
function cpuNs(pid: number): number {
  let total = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended meanwhile
    }
  }
  return total;
}

async function startBare(kind: string, dir: string): Promise<Target> {
  const socket = join(dir, `${kind}.sock`);
  const child: ChildProcess = spawn(process.execPath, [process.argv[1]!, '--serve', kind, socket], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', () => reject(new Error(`the bare ${kind} server ended`)));
  });
  return { name: kind, socket, pid: child.pid!, versionOnly: true, stop: async () => void child.kill() };
}

function startContainerd(dir: string): Target {
  const home = join(dir, 'containerd');
  const harness = (cmd: string) => execFileSync('bash', [join(HARNESS, 'containerd-ref.sh'), cmd, home], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const socket = harness('start').trim();
  const pid = Number(readFileSync(join(home, 'containerd.pid'), 'utf8'));
  return { name: 'containerd', socket, pid, versionOnly: false, stop: async () => void harness('stop') };
}

function buildGocalls(dir: string): string {
  const binary = join(dir, 'gocalls');
  const env = { ...process.env, GO111MODULE: 'off', GOPATH: '/usr/share/gocode', GOCACHE: join(tmpdir(), 'ledgerd-bench-gocache'), GOFLAGS: '' };
  execFileSync('go', ['build', '-o', binary, '.'], { cwd: GOCALLS_SOURCE, env, stdio: 'inherit' });
  return binary;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      calls: { type: 'string', default: '3000' },
      rounds: { type: 'string', default: '3' },
      methods: { type: 'string', default: METHODS.join(',') },
      ledgerd: { type: 'string', multiple: true },
      'no-containerd': { type: 'boolean', default: false },
      'no-bare': { type: 'boolean', default: false },
      ctr: { type: 'string', default: '100' },
      'cpu-prof': { type: 'string' },
      'gap-us': { type: 'string', default: '0' },
    },
  });
  const calls = Number(values.calls);
  const ctrRuns = Number(values.ctr);
  const methods = values.methods!.split(',').filter(Boolean);
  const gocallsEnv = { ...process.env, GOCALLS_GAP_US: values['gap-us'] };
  const dir = mkdtempSync(join(tmpdir(), 'ledgerd-bench-calls-'));
  const gocalls = buildGocalls(dir);
  const targets: Target[] = [];
  try {
    const ledgerds = values.ledgerd?.length ? values.ledgerd : [`ledgerd=${fileURLToPath(new URL('../../bin/ledgerd', import.meta.url))}`];
    for (const spec of ledgerds) {
      const [name, bin] = spec.includes('=') ? (spec.split('=', 2) as [string, string]) : ['ledgerd', spec];
      if (!existsSync(bin)) throw new Error(`no ${bin}`);
      const profDir = values['cpu-prof'] ? join(values['cpu-prof'], name) : undefined;
      if (profDir) mkdirSync(profDir, { recursive: true });
      const daemon = await startLedgerd(join(dir, name), undefined, bin, profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []);
      targets.push({ name, socket: daemon.socket, pid: daemon.pid, versionOnly: false, stop: daemon.stop });
    }
    if (!values['no-bare']) targets.push(await startBare('grpc-js', dir), await startBare('http2', dir));
    if (!values['no-containerd']) targets.push(startContainerd(dir));
    for (const target of targets) if (!target.versionOnly) execFileSync(gocalls, [target.socket, 'setup'], { stdio: 'ignore' });

    const figures = new Map<string, { cpu: number[]; latency: number[] }>();
    const record = (key: string, cpu: number, latency: number) => {
      const entry = figures.get(key) ?? { cpu: [], latency: [] };
      entry.cpu.push(cpu);
      entry.latency.push(latency);
      figures.set(key, entry);
    };
    const load = () => loadavg().map((l) => l.toFixed(1)).join(' ');
    process.stdout.write(`# load average at start ${load()}; ${calls} calls per method per round\n`);
    // warm-up: the JIT and each daemon's first-call work
    for (const target of targets) for (const method of methods) if (!target.versionOnly || method === 'version') execFileSync(gocalls, [target.socket, method, String(calls)]);
    const rounds = Number(values.rounds);
    for (let round = 0; round < rounds; round++) {
      const order = targets.map((_, i) => targets[(i + round) % targets.length]!);
      for (const method of methods) {
        for (const target of order) {
          if (target.versionOnly && method !== 'version') continue;
          const before = cpuNs(target.pid);
          const nsPerCall = Number(execFileSync(gocalls, [target.socket, method, String(calls)], { encoding: 'utf8', env: gocallsEnv }).trim());
          record(`${target.name}.${method}`, (cpuNs(target.pid) - before) / (calls + 1) / 1000, nsPerCall / 1000);
        }
      }
      if (ctrRuns > 0) {
        for (const target of order.filter((t) => !t.versionOnly)) {
          const before = cpuNs(target.pid);
          const start = process.hrtime.bigint();
          for (let i = 0; i < ctrRuns; i++) execFileSync('ctr', ['--address', target.socket, 'version'], { stdio: 'ignore' });
          const wall = Number(process.hrtime.bigint() - start) / ctrRuns / 1000;
          record(`${target.name}.ctr-version`, (cpuNs(target.pid) - before) / ctrRuns / 1000, wall);
        }
      }
      process.stdout.write(`# round ${round + 1} done, load ${load()}\n`);
    }
    // the lowest round is the steadiest figure on a shared machine: load only ever adds to it
    const rounded = (values: number[]) => `µs (lowest ${Math.min(...values).toFixed(0)}; rounds: ${values.map((v) => v.toFixed(0)).join(' ')})`;
    for (const [key, { cpu, latency }] of figures) {
      report(`${key}.cpu`, median(cpu), rounded(cpu));
      report(`${key}.latency`, median(latency), rounded(latency));
    }
  } finally {
    for (const target of targets) await target.stop().catch((err: unknown) => process.stderr.write(`${String(err)}\n`));
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--serve') await serveBare(process.argv[3]!, process.argv[4]!);
else await main();
