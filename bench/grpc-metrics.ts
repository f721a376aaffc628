// The cost of the gRPC metrics interceptor on the request path: server CPU per unary call
// (Version/Version, the cheapest handler) with and without it. The server runs in a child
// process so only its CPU is counted; rounds alternate so load from elsewhere hits both alike.
//   node dist/bench/grpc-metrics.js [calls per round, default 20000] [rounds, default 5]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { Connection } from '../src/cli/grpc-client.js';
import { serviceDefinition } from '../src/api/proto.js';
import { versionService, VERSION_SERVICE } from '../src/services/version.js';
import { DaemonMetrics } from '../src/metrics/registry.js';

const CONCURRENCY = 32;

async function serve(socket: string, withMetrics: boolean, histogram: boolean): Promise<void> {
  const metrics = new DaemonMetrics({ grpcHistogram: histogram });
  const server = new Server({ interceptors: withMetrics ? [metrics.grpc.interceptor] : [] });
  metrics.grpc.initialize(serviceDefinition(VERSION_SERVICE));
  server.addService(serviceDefinition(VERSION_SERVICE), versionService());
  await new Promise<void>((resolve, reject) => server.bindAsync(`unix:${socket}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
  process.stdout.write('ready\n');
  // each line asks for the CPU used so far (µs, user + system)
  for await (const _ of createInterface({ input: process.stdin })) {
    const { user, system } = process.cpuUsage();
    process.stdout.write(`${user + system}\n`);
  }
  server.forceShutdown();
}

class ServerProcess {
  private readonly lines: AsyncIterator<string>;
  constructor(readonly child: ChildProcess) {
    this.lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  }
  static async start(socket: string, mode: string): Promise<ServerProcess> {
    const child = spawn(process.execPath, [process.argv[1]!, '--serve', socket, mode], { stdio: ['pipe', 'pipe', 'inherit'] });
    const server = new ServerProcess(child);
    await server.next();
    return server;
  }
  async next(): Promise<string> {
    const { value, done } = await this.lines.next();
    if (done) throw new Error('the server process ended');
    return value;
  }
  async cpu(): Promise<number> {
    this.child.stdin!.write('cpu\n');
    return Number(await this.next());
  }
}

async function round(connection: Connection, calls: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next++ < calls) await connection.unary(VERSION_SERVICE, 'Version', {});
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

async function main(): Promise<void> {
  const calls = Number(process.argv[2] ?? 20_000);
  const rounds = Number(process.argv[3] ?? 5);
  const dir = mkdtempSync(join(tmpdir(), 'ledgerd-bench-grpc-'));
  const modes = ['off', 'counters', 'counters+histogram'];
  const servers = await Promise.all(modes.map((mode, i) => ServerProcess.start(join(dir, `${i}.sock`), mode)));
  const connections = servers.map((_, i) => new Connection(join(dir, `${i}.sock`), undefined));
  const perCall: number[][] = modes.map(() => []);
  try {
    for (let i = 0; i < modes.length; i++) await round(connections[i]!, 2000); // warm-up
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < modes.length; i++) {
        const before = await servers[i]!.cpu();
        await round(connections[i]!, calls);
        perCall[i]!.push((await servers[i]!.cpu()) - before);
      }
    }
  } finally {
    connections.forEach((c) => c.close());
    servers.forEach((s) => s.child.kill());
    rmSync(dir, { recursive: true, force: true });
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]! / calls;
  const base = median(perCall[0]!);
  process.stdout.write(`server CPU per unary call (median of ${rounds} rounds of ${calls}, ${CONCURRENCY} in flight):\n`);
  modes.forEach((mode, i) => {
    const us = median(perCall[i]!);
    process.stdout.write(`  ${mode.padEnd(20)} ${us.toFixed(2)} µs${i ? `  (+${(us - base).toFixed(2)} µs, +${(((us - base) / base) * 100).toFixed(1)}%)` : ''}\n`);
  });
}

if (process.argv[2] === '--serve') {
  const mode = process.argv[4]!;
  await serve(process.argv[3]!, mode !== 'off', mode.includes('histogram'));
} else {
  await main();
}
