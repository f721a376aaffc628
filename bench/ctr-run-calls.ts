// Where a `ctr run --rm` spends its time, call by call: the real ctr talks to each daemon through a
// unix-socket relay that reads the HTTP/2 frames going by and times every gRPC call from the
// client's HEADERS to the daemon's trailers (or a reset: ctr cancels a Content.Read once it has
// the bytes). ledgerd and containerd 1.6, runs alternating, one busybox image from a local registry.
//   node dist/bench/ctr-run-calls.js [--runs 12] [--port 5152]   (root)
// Prints a table: per method, calls per run, median µs per call and ms per run for each daemon,
// then the sum of the call times per run.
import { execFile, execFileSync } from 'node:child_process';
import { parseArgs, promisify } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
// @ts-expect-error hpack.js has no types; this uses its decompressor (as test/daemon/unix-authority.test.ts does)
import hpack from 'hpack.js';
import { harnessImages } from '../test/helpers/harness-services.js';
import { median } from './report.js';
import { startServices } from './services.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '12' }, port: { type: 'string', default: '5152' } } });
const RUNS = Number(values.runs);
const IMAGE = `127.0.0.1:${values.port}/busybox:latest`;
const PREFACE = 24;
const [DATA, HEADERS, RST_STREAM, CONTINUATION] = [0x0, 0x1, 0x3, 0x9];
const [END_STREAM, END_HEADERS, PADDED, PRIORITY] = [0x1, 0x4, 0x8, 0x20];

interface Call {
  readonly method: string;
  readonly micros: number;
}

/** Splits a byte stream into HTTP/2 frames (after `skip` bytes of preface). */
function frames(skip: number, onFrame: (type: number, flags: number, stream: number, payload: Buffer) => void): (data: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  let toSkip = skip;
  return (data) => {
    pending = pending.length > 0 ? Buffer.concat([pending, data]) : data;
    const skipped = Math.min(toSkip, pending.length);
    pending = pending.subarray(skipped);
    toSkip -= skipped;
    while (pending.length >= 9) {
      const length = pending.readUIntBE(0, 3);
      if (pending.length < 9 + length) break;
      onFrame(pending[3]!, pending[4]!, pending.readUInt32BE(5) & 0x7fffffff, pending.subarray(9, 9 + length));
      pending = pending.subarray(9 + length);
    }
  };
}

/** A relay from `listen` to `target` that adds every call it sees go by to `calls`. */
function timingRelay(listen: string, target: string, calls: Call[]): Server {
  return createServer((client: Socket) => {
    const daemon = connect(target);
    const started = new Map<number, { method: string; at: bigint }>();
    const decompressor: { write(block: Buffer): void; execute(): void; read(): { name: string; value: string } | null } = hpack.decompressor.create({ table: { size: 4096 } });
    let block: { stream: number; parts: Buffer[] } | undefined;
    const end = (stream: number) => {
      const call = started.get(stream);
      if (!call) return;
      started.delete(stream);
      calls.push({ method: call.method, micros: Number(process.hrtime.bigint() - call.at) / 1000 });
    };
    const fromClient = frames(PREFACE, (type, flags, stream, payload) => {
      if (type === RST_STREAM) end(stream);
      if (type !== HEADERS && type !== CONTINUATION) return;
      if (type === HEADERS) {
        const padding = flags & PADDED ? payload[0]! : 0;
        const start = (flags & PADDED ? 1 : 0) + (flags & PRIORITY ? 5 : 0);
        block = { stream, parts: [payload.subarray(start, payload.length - padding)] };
      } else block?.parts.push(payload);
      if (!(flags & END_HEADERS) || !block) return;
      decompressor.write(Buffer.concat(block.parts));
      decompressor.execute();
      let method = '?';
      for (let header = decompressor.read(); header; header = decompressor.read()) if (header.name === ':path') method = header.value;
      started.set(block.stream, { method: method.replace(/^\/containerd\.services\./, ''), at: process.hrtime.bigint() });
    });
    const fromDaemon = frames(0, (type, flags, stream) => {
      if ((type === HEADERS && flags & END_STREAM) || type === RST_STREAM || (type === DATA && flags & END_STREAM)) end(stream);
    });
    client.on('data', (data: Buffer) => (daemon.write(data), fromClient(data)));
    daemon.on('data', (data: Buffer) => (client.write(data), fromDaemon(data)));
    const close = () => (client.destroy(), daemon.destroy());
    for (const side of [client, daemon]) side.on('close', close).on('error', close);
  }).listen(listen);
}

const dir = mkdtempSync(join(tmpdir(), 'ledgerd-bench-ctr-calls-'));
const services = await startServices(dir, values.port!, harnessImages());
const relays: Server[] = [];
try {
  const daemons = [
    { name: 'ledgerd', socket: services.ledgerd.socket, calls: [] as Call[] },
    { name: 'containerd', socket: services.containerd.socket, calls: [] as Call[] },
  ];
  const ctr = (socket: string, ...args: string[]) => execFileSync('ctr', ['--address', socket, ...args], { stdio: 'ignore' });
  for (const daemon of daemons) {
    ctr(daemon.socket, 'images', 'pull', '--plain-http', IMAGE);
    ctr(daemon.socket, 'run', '--rm', IMAGE, 'warm-up', 'true');
  }
  const relayed = daemons.map((daemon) => {
    const socket = join(dir, `${daemon.name}-relay.sock`);
    relays.push(timingRelay(socket, daemon.socket, daemon.calls));
    return socket;
  });
  process.stdout.write(`# load average at start ${loadavg().map((l) => l.toFixed(1)).join(' ')}; ${RUNS} runs each, alternating\n`);
  // not execFileSync: the relays run on this process's event loop
  const run = promisify(execFile);
  for (let n = 0; n < RUNS; n++) {
    for (let i = 0; i < daemons.length; i++) await run('ctr', ['--address', relayed[i]!, 'run', '--rm', IMAGE, `calls-${n}`, 'true']);
  }
  const methods = [...new Set(daemons.flatMap((d) => d.calls.map((c) => c.method)))];
  const cell = (daemon: (typeof daemons)[number], method: string) => {
    const times = daemon.calls.filter((c) => c.method === method).map((c) => c.micros);
    return { perRun: times.length / RUNS, median: times.length ? median(times) : 0, msPerRun: times.reduce((a, b) => a + b, 0) / RUNS / 1000 };
  };
  process.stdout.write(`${'method'.padEnd(36)} ${'calls/run'.padStart(9)} ${'median µs'.padStart(17)} ${'ms per run'.padStart(17)}\n`);
  process.stdout.write(`${''.padEnd(36)} ${''.padStart(9)} ${'ledgerd  ctrd'.padStart(17)} ${'ledgerd  ctrd'.padStart(17)}\n`);
  for (const method of methods) {
    const [l, c] = daemons.map((d) => cell(d, method)) as [ReturnType<typeof cell>, ReturnType<typeof cell>];
    process.stdout.write(
      `${method.padEnd(36)} ${l.perRun.toFixed(1).padStart(4)} ${c.perRun.toFixed(1).padStart(4)} ${l.median.toFixed(0).padStart(8)} ${c.median.toFixed(0).padStart(8)} ${l.msPerRun.toFixed(2).padStart(8)} ${c.msPerRun.toFixed(2).padStart(8)}\n`,
    );
  }
  const total = (d: (typeof daemons)[number]) => d.calls.reduce((a, b) => a + b.micros, 0) / RUNS / 1000;
  process.stdout.write(`sum of call times per run: ledgerd ${total(daemons[0]!).toFixed(1)} ms, containerd ${total(daemons[1]!).toFixed(1)} ms\n`);
} finally {
  for (const relay of relays) relay.close();
  await services.stop();
  rmSync(dir, { recursive: true, force: true });
}
