import { test } from 'node:test';
import assert from 'node:assert/strict';
import { namespacesProjection } from '../../src/projections/index.js';
import { recordMaker } from '../helpers/log-records.js';

/** Each test numbers its records from 1. */
const records = () => recordMaker((namespace) => `namespaces/${namespace}`);
const fold = (records: ReturnType<ReturnType<typeof recordMaker>>[]) => records.reduce((s, r) => namespacesProjection.evolve(s, r), namespacesProjection.initial());

test('namespaces read model: create and update keep the creation time, delete forgets the namespace but keeps its version', () => {
  const record = records();
  const state = fold([
    record('a', 'NamespaceCreated', { name: 'a', labels: { team: 'blue' } }),
    record('b', 'NamespaceCreated', { name: 'b', labels: {} }),
    record('a', 'NamespaceUpdated', { name: 'a', labels: { team: 'red' } }),
    record('b', 'NamespaceDeleted', { name: 'b' }),
  ]);
  assert.deepEqual(state.live, { a: { name: 'a', labels: { team: 'red' }, createdAt: 1000n, updatedAt: 3000n } });
  assert.deepEqual(state.versions, { 'a/namespaces/a': 3, 'b/namespaces/b': 4 });
});

test('namespaces read model: a namespace comes into being with the first thing made in it, and only then', () => {
  const record = records();
  const state = fold([
    record('img', 'ImageCreated', { name: 'busybox' }),
    record('img', 'ImageCreated', { name: 'other' }),
    record('gone', 'ImageDeleted', { name: 'busybox' }),
  ]);
  assert.deepEqual(state.live, { img: { name: 'img', labels: {}, createdAt: 1000n, updatedAt: 1000n } });
  assert.deepEqual(state.versions, {}, 'an implied namespace has no stream of its own yet');
});
