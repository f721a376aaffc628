import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mark, sweep, type GcInputs, type GcLease, type GcSnapshot, type GcIngest } from '../../src/gc/reference-graph.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;

function inputs(world: {
  leases?: GcLease[];
  images?: { name: string; targetDigest: string; labels: Record<string, string> }[];
  containers?: { id: string; snapshotter: string; snapshotKey: string; labels: Record<string, string> }[];
  content?: { digest: string; labels: Record<string, string> }[];
  snapshots?: GcSnapshot[];
  ingests?: GcIngest[];
}): GcInputs {
  return {
    namespaces: () => ['ns'],
    leases: () => world.leases ?? [],
    images: () => world.images ?? [],
    containers: () => world.containers ?? [],
    content: () => world.content ?? [],
    snapshots: () => world.snapshots ?? [],
    ingests: () => world.ingests ?? [],
  };
}

const NOW = new Date('2026-06-01T00:00:00Z');
const keys = (nodes: { key: string }[]) => nodes.map((n) => n.key).sort();

test('an image keeps its index, manifests, config and layers through gc.ref labels; the rest is swept', () => {
  const world = inputs({
    images: [{ name: 'busybox', targetDigest: d('1'), labels: {} }],
    content: [
      { digest: d('1'), labels: { 'containerd.io/gc.ref.content.m.0': d('2') } },
      { digest: d('2'), labels: { 'containerd.io/gc.ref.content.config': d('3'), 'containerd.io/gc.ref.content.l.0': d('4'), 'containerd.io/gc.ref.snapshot.overlayfs': 'chain1' } },
      { digest: d('3'), labels: {} },
      { digest: d('4'), labels: {} },
      { digest: d('5'), labels: { 'containerd.io/gc.ref.contentX': d('4') } },
      { digest: d('6'), labels: { 'containerd.io/gc.root': 'pinned' } },
    ],
    snapshots: [
      { snapshotter: 'overlayfs', key: 'chain0', parent: '', labels: {} },
      { snapshotter: 'overlayfs', key: 'chain1', parent: 'chain0', labels: {} },
      { snapshotter: 'overlayfs', key: 'orphan-child', parent: 'orphan', labels: {} },
      { snapshotter: 'overlayfs', key: 'orphan', parent: '', labels: {} },
    ],
  });
  const marked = mark(world, NOW);
  const swept = sweep(world, marked);
  assert.deepEqual(keys(swept.content), [d('5')]);
  assert.deepEqual(swept.snapshots.map((n) => n.key), ['overlayfs/orphan-child', 'overlayfs/orphan'], 'children before parents');
  const why = marked.live.get({ kind: 'content', namespace: 'ns', key: d('4') })!.reason;
  assert.deepEqual(why, { from: { kind: 'content', namespace: 'ns', key: d('2') }, label: 'containerd.io/gc.ref.content.l.0' });
  assert.deepEqual(marked.live.get({ kind: 'content', namespace: 'ns', key: d('6') })!.reason, { root: 'containerd.io/gc.root' });
});

test('leases hold their resources until they expire; expired leases are swept too', () => {
  const world = inputs({
    leases: [
      { id: 'live', labels: { 'containerd.io/gc.expire': '2026-06-02T00:00:00Z' }, resources: [{ type: 'content', id: d('1') }] },
      { id: 'old', labels: { 'containerd.io/gc.expire': '2026-05-01T00:00:00Z' }, resources: [{ type: 'content', id: d('2') }] },
      { id: 'bad-time', labels: { 'containerd.io/gc.expire': 'tomorrow' }, resources: [{ type: 'snapshots/native', id: 's' }] },
    ],
    content: [
      { digest: d('1'), labels: {} },
      { digest: d('2'), labels: {} },
    ],
    snapshots: [{ snapshotter: 'native', key: 's', parent: '', labels: {} }],
  });
  const swept = sweep(world, mark(world, NOW));
  assert.deepEqual(keys(swept.content), [d('2')]);
  assert.deepEqual(keys(swept.leases), ['old']);
  assert.deepEqual(swept.snapshots, [], 'an unparsable expiry means no expiry');
});

test('gc.flat leases keep their resources but not what their labels point to; parents stay', () => {
  const world = inputs({
    leases: [{ id: 'flat', labels: { 'containerd.io/gc.flat': '' }, resources: [{ type: 'content', id: d('1') }, { type: 'snapshots/overlayfs', id: 'top' }] }],
    content: [
      { digest: d('1'), labels: { 'containerd.io/gc.ref.content.l.0': d('2') } },
      { digest: d('2'), labels: {} },
    ],
    snapshots: [
      { snapshotter: 'overlayfs', key: 'top', parent: 'base', labels: { 'containerd.io/gc.ref.content': d('2') } },
      { snapshotter: 'overlayfs', key: 'base', parent: '', labels: {} },
    ],
  });
  const swept = sweep(world, mark(world, NOW));
  assert.deepEqual(keys(swept.content), [d('2')]);
  assert.deepEqual(swept.snapshots, []);
});

test('containers root their snapshot and label references; dead references are ignored', () => {
  const world = inputs({
    containers: [{ id: 'c1', snapshotter: 'overlayfs', snapshotKey: 'c1', labels: { 'containerd.io/gc.ref.content.spec': d('9') } }],
    content: [{ digest: d('9'), labels: { 'containerd.io/gc.ref.content': d('8') } }],
    snapshots: [{ snapshotter: 'overlayfs', key: 'c1', parent: 'gone', labels: {} }],
  });
  const swept = sweep(world, mark(world, NOW));
  assert.deepEqual(swept, { content: [], snapshots: [], leases: [], ingests: [] });
});

test('uploads: unleased ones live until they expire, leased ones while their lease does, a shared one keeps its blob', () => {
  const ns = (iso: string) => BigInt(Date.parse(iso)) * 1_000_000n;
  const world = inputs({
    leases: [{ id: 'pull', labels: {}, resources: [{ type: 'ingests', id: 'held' }] }],
    ingests: [
      { ref: 'fresh', expiresAt: ns('2026-06-02T00:00:00Z') },
      { ref: 'stale', expiresAt: ns('2026-05-31T00:00:00Z') },
      { ref: 'held' },
      { ref: 'orphaned' },
      { ref: 'linking', expiresAt: ns('2026-06-02T00:00:00Z'), shared: d('5') },
    ],
    content: [{ digest: d('5'), labels: {} }],
  });
  const marked = mark(world, NOW);
  const swept = sweep(world, marked);
  assert.deepEqual(keys(swept.ingests), ['orphaned', 'stale']);
  assert.deepEqual(swept.content, []);
  const reason = marked.live.get({ kind: 'content', namespace: 'ns', key: d('5') })!.reason;
  assert.deepEqual(reason, { from: { kind: 'ingest', namespace: 'ns', key: 'linking' }, label: 'shared upload' });
});
