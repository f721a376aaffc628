// The daemon side of shim v2, measured through ShimRuntime as the tasks service drives it:
//   <shim>_create_median: TaskRuntime.create = bundle + `start` + connect + Create (runc create
//     included), median of --runs fresh shims, for containerd-shim-runc-v2 and ledgerd's shim
//   ttrpc_roundtrip_inprocess_median / _p99: one unary call, client and server in this process
//   ttrpc_roundtrip_runc_shim_median: State against a containerd-shim-runc-v2 (Go ttrpc server)
// Usage: node dist/bench/shim-runtime.js [--runs 10] [--calls 2000]   (root, runc, busybox-static)
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ShimRuntime } from '../src/shims/runtime/shim-runtime.js';
import type { RuntimeTask } from '../src/shims/runtime/task-runtime.js';
import { TtrpcClient, TtrpcServer } from '../src/shims/wire/ttrpc/index.js';
import { mountPointsUnder, unmountAll } from '../src/util/mount/index.js';
import { busyboxRootfs, ociSpec } from '../test/helpers/shim-bundle.js';
import { SHIM_BINARY } from '../test/helpers/own-shim.js';
import { percentile, report } from './report.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '10' }, calls: { type: 'string', default: '2000' } } });
const RUNS = Number(values.runs);
const CALLS = Number(values.calls);
const SHIMS: Array<[string, string, string]> = [
  ['runc_v2', 'io.containerd.runc.v2', '/usr/bin/containerd-shim-runc-v2'],
  ['ledger', 'io.containerd.ledger.v1', SHIM_BINARY],
];

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const ms = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;

const dir = mkdtempSync('/tmp/shim-runtime-bench-');
const rootfs = busyboxRootfs(join(dir, 'busybox'));
const plugin = 'io.containerd.runtime.v2.task';
const runtime = await ShimRuntime.open({ root: join(dir, 'root', plugin), state: join(dir, 'state', plugin), address: join(dir, 'd.sock'), shimLog: () => {} });
const namespace = `bench-${process.pid}`;

async function createOne(runtimeName: string, binary: string, id: string): Promise<{ task: RuntimeTask; ms: number }> {
  const start = process.hrtime.bigint();
  const task = await runtime.create({
    namespace,
    id,
    runtime: runtimeName,
    runtimePath: binary,
    spec: Buffer.from(JSON.stringify(ociSpec({ args: ['sleep', '1000'], cgroupsPath: `/${namespace}/${id}` }))),
    rootfs: [{ type: 'bind', source: rootfs, options: ['rbind', 'rw'] }],
    stdin: '',
    stdout: '',
    stderr: '',
    terminal: false,
  });
  return { task, ms: ms(start) };
}

async function roundTrips(call: () => Promise<unknown>, n: number): Promise<number[]> {
  for (let i = 0; i < 50; i++) await call(); // warm-up
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = process.hrtime.bigint();
    await call();
    times.push(ms(start));
  }
  return sorted(times);
}

try {
  for (const [name, runtimeName, binary] of SHIMS) {
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const { task, ms: took } = await createOne(runtimeName, binary, `${name}-${i}`);
      times.push(took);
      if (name === 'runc_v2' && i === 0) {
        const rt = await roundTrips(() => task.state(), Math.min(CALLS, 500));
        report('ttrpc_roundtrip_runc_shim_median', percentile(rt, 50), 'ms');
      }
      await task.delete();
    }
    report(`${name}_create_median`, percentile(sorted(times), 50), 'ms');
  }

  const server = new TtrpcServer();
  server.register('bench.Echo', { Echo: (payload) => payload });
  const path = join(dir, 'echo.sock');
  await server.listen(path);
  const client = await TtrpcClient.connect(path);
  const payload = Buffer.alloc(64, 1);
  const rt = await roundTrips(() => client.call('bench.Echo', 'Echo', payload, { metadata: { 'containerd-namespace-ttrpc': 'bench' } }), CALLS);
  report('ttrpc_roundtrip_inprocess_median', percentile(rt, 50), 'ms');
  report('ttrpc_roundtrip_inprocess_p99', percentile(rt, 99), 'ms');
  await client.close();
  await server.close();
} finally {
  await runtime.close();
  for (const point of mountPointsUnder(dir)) await unmountAll(point);
  rmSync(dir, { recursive: true, force: true });
  rmSync(`/run/containerd/runc/${namespace}`, { recursive: true, force: true });
}
