// Which trace a call without trace context joins: the rules of src/tracing/call-groups.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CallGroups, subjectOf } from '../../src/tracing/call-groups.js';

const C = '/containerd.services.containers.v1.Containers/';
const T = '/containerd.services.tasks.v1.Tasks/';
const S = '/containerd.services.snapshots.v1.Snapshots/';

test('a call names a container by its id, its task or its snapshot key, within its namespace', () => {
  assert.deepEqual(subjectOf(`${C}Create`, 'ns', { container: { id: 'web' } }), { key: 'ns/web', opens: true, closes: false });
  assert.deepEqual(subjectOf(`${C}Get`, 'ns', { id: 'web' }), { key: 'ns/web', opens: false, closes: false });
  assert.deepEqual(subjectOf(`${C}Delete`, 'ns', { id: 'web' }), { key: 'ns/web', opens: false, closes: true });
  assert.deepEqual(subjectOf(`${T}Start`, 'ns', { container_id: 'web' }), { key: 'ns/web', opens: false, closes: false });
  assert.deepEqual(subjectOf(`${S}Prepare`, 'ns', { snapshotter: 'overlayfs', key: 'web' }), { key: 'ns/web', opens: true, closes: false });
  assert.deepEqual(subjectOf(`${S}Remove`, 'ns', { key: 'web' }), { key: 'ns/web', opens: false, closes: false });
  // nothing named, or no namespace: a trace of its own
  assert.equal(subjectOf(`${C}List`, 'ns', { filters: [] }), undefined);
  assert.equal(subjectOf(`${T}Start`, 'ns', { container_id: '' }), undefined);
  assert.equal(subjectOf(`${S}Stat`, 'ns', { key: 'web' }), undefined);
  assert.equal(subjectOf('/containerd.services.images.v1.Images/Get', 'ns', { name: 'web' }), undefined);
  assert.equal(subjectOf(`${T}Start`, undefined, { container_id: 'web' }), undefined);
});

test('calls on one container join the first one\'s trace until the grace after its delete', () => {
  let now = 0;
  const groups = new CallGroups<string>({ closeGraceMs: 100, maxAgeMs: 10_000, maxGroups: 10 }, () => now);
  const prepare = subjectOf(`${S}Prepare`, 'ns', { key: 'web' })!;
  assert.equal(groups.rootFor(prepare), undefined, 'the first call is a root');
  groups.open(prepare, 'root-1');
  assert.equal(groups.rootFor(subjectOf(`${C}Create`, 'ns', { container: { id: 'web' } })!), 'root-1', 'a create after the prepare joins');
  assert.equal(groups.rootFor(subjectOf(`${T}Start`, 'other', { container_id: 'web' })!), undefined, 'another namespace is another container');
  const remove = subjectOf(`${C}Delete`, 'ns', { id: 'web' })!;
  assert.equal(groups.rootFor(remove), 'root-1');
  groups.close(remove);
  now = 50;
  assert.equal(groups.rootFor(subjectOf(`${S}Remove`, 'ns', { key: 'web' })!), 'root-1', "the client's clean-up after the delete joins");
  assert.equal(groups.rootFor(prepare), undefined, 'a new prepare of a deleted container\'s id starts a new trace');
  groups.open(prepare, 'root-2');
  assert.equal(groups.rootFor(subjectOf(`${T}Start`, 'ns', { container_id: 'web' })!), 'root-2');
  groups.close(remove);
  now = 200;
  assert.equal(groups.rootFor(subjectOf(`${T}Get`, 'ns', { container_id: 'web' })!), undefined, 'the grace is over');
});

test('groups end with age, and the oldest go first beyond the limit', () => {
  let now = 0;
  const groups = new CallGroups<string>({ closeGraceMs: 100, maxAgeMs: 1000, maxGroups: 2 }, () => now);
  const subject = (id: string) => subjectOf(`${T}Get`, 'ns', { container_id: id })!;
  groups.open(subject('a'), 'a');
  groups.open(subject('b'), 'b');
  groups.open(subject('c'), 'c');
  assert.equal(groups.size, 2);
  assert.equal(groups.rootFor(subject('a')), undefined, 'a was pushed out');
  assert.equal(groups.rootFor(subject('c')), 'c');
  now = 1001;
  assert.equal(groups.rootFor(subject('c')), undefined, 'an hour-old trace takes no more calls');
  assert.equal(groups.size, 1);
});
