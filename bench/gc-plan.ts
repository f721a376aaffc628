// The collector's plan (mark + sweep over the read models) as a node grows: a collection follows
// every `ctr run --rm`, so its cost is paid per container. Synthetic inputs in one namespace: N
// blobs (every other one a gc.root), a chain of M snapshots, one image.
//   node dist/bench/gc-plan.js [--blobs 3000] [--snapshots 300] [--rounds 5]
// Prints the mean ms per plan of each round.
import { parseArgs } from 'node:util';
import { mark, readOnce, sweep, type GcInputs } from '../src/gc/reference-graph.js';

const { values } = parseArgs({ options: { blobs: { type: 'string', default: '3000' }, snapshots: { type: 'string', default: '300' }, rounds: { type: 'string', default: '5' } } });
const digest = (i: number) => `sha256:${i.toString(16).padStart(64, '0')}`;
const blobs = Object.fromEntries(
  Array.from({ length: Number(values.blobs) }, (_, i) => [digest(i), { digest: digest(i), labels: (i % 2 ? { 'containerd.io/gc.root': 'x' } : {}) as Record<string, string> }]),
);
const snapshots = Array.from({ length: Number(values.snapshots) }, (_, i) => ({ snapshotter: 'overlayfs', key: `k${i}`, parent: i ? `k${i - 1}` : '', labels: {} }));
const inputs: GcInputs = {
  namespaces: () => ['default'],
  leases: () => [],
  images: () => [{ name: 'image', targetDigest: digest(1), labels: {} }],
  containers: () => [],
  content: () => Object.values(blobs),
  ingests: () => [],
  snapshots: () => snapshots,
};

const PLANS = 50;
for (let round = 0; round < Number(values.rounds); round++) {
  const start = performance.now();
  for (let i = 0; i < PLANS; i++) {
    const once = readOnce(inputs);
    sweep(once, mark(once, new Date()));
  }
  process.stdout.write(`gc_plan_round_${round + 1} ${((performance.now() - start) / PLANS).toFixed(2)} ms\n`);
}
