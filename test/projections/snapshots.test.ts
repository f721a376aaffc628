import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LogRecord } from '../../src/log/index.js';
import { asEventRecord } from '../../src/events/index.js';
import { liveIds, snapshotOf, snapshotsIn, snapshotsProjection } from '../../src/projections/index.js';

let seq = 0;
const record = (namespace: string, type: string, payload: Record<string, unknown>): LogRecord => ({
  seq: ++seq,
  time: BigInt(seq) * 1000n,
  namespace,
  stream: `snapshots/${String(payload.snapshotter)}`,
  version: seq,
  type,
  schema: 1,
  payload,
  meta: {},
});

test('snapshots read model: children, commit keeps the id and the links, removal frees the id but not the counter', () => {
  const sn = 'overlayfs';
  const events = [
    record('a', 'SnapshotPrepared', { snapshotter: sn, key: 'base-x', parent: '', kind: 'active', id: 1, labels: {} }),
    record('a', 'SnapshotCommitted', { snapshotter: sn, key: 'base-x', name: 'base', id: 1, labels: { l: '1' }, size: 4096, inodes: 1 }),
    record('a', 'SnapshotPrepared', { snapshotter: sn, key: 'kid', parent: 'base', kind: 'active', id: 2, labels: {} }),
    record('a', 'SnapshotPrepared', { snapshotter: sn, key: 'look', parent: 'base', kind: 'view', id: 3, labels: {} }),
    record('b', 'SnapshotPrepared', { snapshotter: sn, key: 'base', parent: '', kind: 'active', id: 4, labels: {} }),
    record('a', 'SnapshotCommitted', { snapshotter: sn, key: 'kid', name: 'kid-c', id: 2, labels: {}, size: 0, inodes: 1 }),
    record('a', 'SnapshotRemoved', { snapshotter: sn, key: 'look', id: 3 }),
    record('a', 'SnapshotLabelsUpdated', { snapshotter: sn, key: 'base', labels: { l: '2' } }),
    record('b', 'SnapshotRemoved', { snapshotter: sn, key: 'base', id: 4 }),
    record('a', 'NamespaceCreated', { name: 'a', labels: {} }),
  ];
  const state = events.reduce((s, r) => snapshotsProjection.evolve(s, asEventRecord(r)!), snapshotsProjection.initial());
  assert.deepEqual(snapshotsIn(state, 'a', sn).map((s) => [s.key, s.kind, s.parent, s.id, s.children]), [
    ['base', 'committed', '', 1, 1],
    ['kid-c', 'committed', 'base', 2, 0],
  ]);
  const base = snapshotOf(state, 'a', sn, 'base')!;
  assert.deepEqual(base.labels, { l: '2' });
  assert.equal(base.createdAt, 2000n);
  assert.equal(base.updatedAt, 8000n);
  assert.equal(base.size, 4096);
  assert.deepEqual(snapshotsIn(state, 'b', sn), []);
  assert.deepEqual([...liveIds(state, sn)].sort(), [1, 2]);
  assert.equal(state.lastIds[sn], 4);
  assert.equal(state.versions[`a/snapshots/${sn}`], 8);
  assert.equal(snapshotOf(state, 'a', sn, 'toString'), undefined);
});
