import { test } from 'node:test';
import assert from 'node:assert/strict';
import { leaseOf, leasesIn, leasesProjection } from '../../src/projections/index.js';
import { recordMaker } from '../helpers/log-records.js';

const record = recordMaker((_namespace, payload) => `leases/${String(payload.id ?? payload.digest ?? payload.key)}`);
const fold = (records: ReturnType<typeof record>[]) => records.reduce((s, r) => leasesProjection.evolve(s, r), leasesProjection.initial());
const held = (state: ReturnType<typeof fold>, id: string) => Object.keys(leaseOf(state, 'ns', id)?.resources ?? {}).sort();

test('leases read model: explicit resources come and go; a deleted lease is forgotten with its version', () => {
  const state = fold([
    record('ns', 'LeaseCreated', { id: 'l1', labels: { a: 'b' } }),
    record('ns', 'LeaseCreated', { id: 'l2', labels: {} }),
    record('ns', 'LeaseResourceAdded', { id: 'l1', resource: { type: 'content', id: 'sha256:1' } }),
    record('ns', 'LeaseResourceAdded', { id: 'l1', resource: { type: 'snapshots/overlayfs', id: 'k' } }),
    record('ns', 'LeaseResourceRemoved', { id: 'l1', resource: { type: 'content', id: 'sha256:1' } }),
    record('ns', 'LeaseDeleted', { id: 'l2' }),
  ]);
  assert.deepEqual(leasesIn(state, 'ns').map((l) => [l.id, l.labels, l.createdAt]), [['l1', { a: 'b' }, 1000n]]);
  assert.deepEqual(held(state, 'l1'), ['snapshots/overlayfs/k']);
  assert.deepEqual(state.versions, { 'ns/leases/l1': 5 });
});

test('leases read model: a write under a lease is held by it; a commit moves the hold to the result; a deletion releases it from every lease', () => {
  const state = fold([
    record('ns', 'LeaseCreated', { id: 'pull', labels: {} }),
    record('ns', 'LeaseCreated', { id: 'other', labels: {} }),
    record('ns', 'ContentIngestStarted', { ref: 'layer-1', lease: 'pull' }),
    record('ns', 'ContentCommitted', { digest: 'sha256:1', ref: 'layer-1', lease: 'pull' }),
    record('ns', 'SnapshotPrepared', { snapshotter: 'overlayfs', key: 'extract', lease: 'pull' }),
    record('ns', 'SnapshotCommitted', { snapshotter: 'overlayfs', key: 'extract', name: 'chain-1', lease: 'pull' }),
    record('ns', 'LeaseResourceAdded', { id: 'other', resource: { type: 'content', id: 'sha256:1' } }),
  ]);
  assert.deepEqual(held(state, 'pull'), ['content/sha256:1', 'snapshots/overlayfs/chain-1']);
  const deleted = leasesProjection.evolve(state, record('ns', 'ContentDeleted', { digest: 'sha256:1' }));
  assert.deepEqual(held(deleted, 'pull'), ['snapshots/overlayfs/chain-1']);
  assert.deepEqual(held(deleted, 'other'), [], 'released from every lease of the namespace');
});
