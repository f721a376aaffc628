import { test } from 'node:test';
import assert from 'node:assert/strict';
import { imagesIn, imagesProjection } from '../../src/projections/index.js';
import { recordMaker } from '../helpers/log-records.js';

const record = recordMaker((_namespace, payload) => `images/${String(payload.name)}`);
const target = (digest: string) => ({ mediaType: 'application/vnd.oci.image.index.v1+json', digest, size: 100 });

test('images read model: create, update keeping the creation time, delete keeping the version; listed by name', () => {
  const events = [
    record('a', 'ImageCreated', { name: 'redis', labels: {}, target: target('sha256:1') }),
    record('a', 'ImageCreated', { name: 'busybox', labels: {}, target: target('sha256:2') }),
    record('a', 'ImageUpdated', { name: 'redis', labels: { pinned: 'yes' }, target: target('sha256:3') }),
    record('a', 'ImageDeleted', { name: 'busybox' }),
    record('b', 'ImageCreated', { name: 'busybox', labels: {}, target: target('sha256:2') }),
  ];
  const state = events.reduce((s, r) => imagesProjection.evolve(s, r), imagesProjection.initial());
  assert.deepEqual(
    imagesIn(state, 'a').map((i) => [i.name, i.target.digest, i.labels, i.createdAt, i.updatedAt]),
    [['redis', 'sha256:3', { pinned: 'yes' }, 1000n, 3000n]],
  );
  assert.deepEqual(imagesIn(state, 'b').map((i) => i.name), ['busybox']);
  assert.deepEqual(state.versions, { 'a/images/redis': 3, 'a/images/busybox': 4, 'b/images/busybox': 5 }, 'a deleted image keeps its stream version');
});
