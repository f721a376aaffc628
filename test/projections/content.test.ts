import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blobInAnyNamespace, blobOf, blobsIn, contentProjection, ingestsIn } from '../../src/projections/index.js';
import { recordMaker } from '../helpers/log-records.js';

const record = recordMaker((_namespace, payload) => `content/${String(payload.digest ?? payload.ref)}`);
const fold = (records: ReturnType<typeof record>[]) => records.reduce((s, r) => contentProjection.evolve(s, r), contentProjection.initial());

test('content read model: an upload becomes a blob at commit; labels update; delete and abort end them', () => {
  const state = fold([
    record('a', 'ContentIngestStarted', { ref: 'up-1', backendRef: 'a/up-1', total: 10, shared: false }),
    record('a', 'ContentIngestStarted', { ref: 'up-2', backendRef: 'a/up-2', total: 5, shared: false, expiresAt: 99 }),
    record('a', 'ContentCommitted', { digest: 'sha256:1', size: 10, labels: {}, ref: 'up-1' }),
    record('a', 'ContentLabelsUpdated', { digest: 'sha256:1', labels: { 'containerd.io/gc.root': 'x' } }),
    record('a', 'ContentCommitted', { digest: 'sha256:2', size: 3, labels: {} }),
    record('a', 'ContentDeleted', { digest: 'sha256:2' }),
    record('b', 'ContentCommitted', { digest: 'sha256:2', size: 3, labels: {} }),
  ]);
  const blob = blobOf(state, 'a', 'sha256:1')!;
  assert.deepEqual([blob.size, blob.labels, blob.createdAt, blob.updatedAt], [10, { 'containerd.io/gc.root': 'x' }, 3000n, 4000n]);
  assert.deepEqual(blobsIn(state, 'a').map((b) => b.digest), ['sha256:1']);
  assert.deepEqual(ingestsIn(state, 'a').map((i) => [i.ref, i.startedAt, i.expiresAt]), [['up-2', 2000n, 99n]], 'the codec\'s number comes back a bigint');
  assert.equal(blobInAnyNamespace(state, 'sha256:2')?.size, 3, 'namespace b still holds it');
  assert.equal(state.versions['a/content/sha256:2'], 6, 'a deleted blob keeps its stream version');

  const aborted = contentProjection.evolve(state, record('a', 'ContentIngestAborted', { ref: 'up-2' }));
  assert.deepEqual(ingestsIn(aborted, 'a'), []);
  const gone = contentProjection.evolve(aborted, record('a', 'NamespaceDeleted', { name: 'a' }));
  assert.deepEqual(blobsIn(gone, 'a'), []);
});
