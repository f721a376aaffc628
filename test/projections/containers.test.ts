import { test } from 'node:test';
import assert from 'node:assert/strict';
import { containerOf, containersIn, containersProjection } from '../../src/projections/index.js';
import { recordMaker } from '../helpers/log-records.js';

const record = recordMaker((_namespace, payload) => `containers/${String(payload.id)}`);
const container = (id: string, labels: Record<string, string> = {}) => ({
  id,
  labels,
  image: 'busybox',
  runtime: { name: 'io.containerd.runc.v2' },
  snapshotter: 'overlayfs',
  snapshotKey: id,
  extensions: {},
});

test('containers read model: create, update keeping the creation time, delete; listed in id order per namespace', () => {
  const events = [
    record('a', 'ContainerCreated', container('web')),
    record('a', 'ContainerCreated', container('db')),
    record('b', 'ContainerCreated', container('web')),
    record('a', 'ContainerUpdated', container('web', { tier: 'front' })),
    record('a', 'ContainerDeleted', { id: 'db' }),
  ];
  const state = events.reduce((s, r) => containersProjection.evolve(s, r), containersProjection.initial());
  assert.deepEqual(containersIn(state, 'a').map((c) => c.id), ['web']);
  assert.deepEqual(containersIn(state, 'b').map((c) => c.id), ['web']);
  const web = containerOf(state, 'a', 'web')!;
  assert.deepEqual([web.labels, web.createdAt, web.updatedAt], [{ tier: 'front' }, 1000n, 4000n]);
  assert.equal(containerOf(state, 'a', 'db'), undefined);
  assert.deepEqual(state.versions, { 'a/containers/web': 4, 'b/containers/web': 3 }, 'a deleted container has no version here (the log keeps it)');
  assert.deepEqual(state.buckets, { a: true, b: true }, 'both namespaces have had containers');
});

test('containers read model: deleting a namespace forgets its containers and its bucket', () => {
  const events = [record('a', 'ContainerCreated', container('web')), record('a', 'NamespaceDeleted', { name: 'a' })];
  const state = events.reduce((s, r) => containersProjection.evolve(s, r), containersProjection.initial());
  assert.deepEqual(containersIn(state, 'a'), []);
  assert.deepEqual(state.buckets, {});
});
