// Container commands on a real log: containerd's validation messages, field masks, immutable
// fields, and that a refused request appends nothing.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { EventLog } from '../../src/log/index.js';
import { ProjectionSet, containersProjection } from '../../src/projections/index.js';
import { ContainerCommands, type ContainerInput } from '../../src/commands/containers.js';
import { LedgerError, StatusError } from '../../src/util/errdefs.js';
import { tempDir } from '../helpers/tmp.js';

function setup(t: TestContext) {
  const log = EventLog.open({ dir: tempDir(t) });
  const projections = new ProjectionSet(log);
  const view = projections.add(containersProjection);
  projections.start();
  t.after(async () => {
    await projections.stop();
    await log.close();
  });
  return { log, containers: new ContainerCommands({ log, projections }, view) };
}

const kind = (k: string, pattern: RegExp) => (err: unknown) => err instanceof LedgerError && err.kind === k && pattern.test(err.message);
const spec = (json = '{"ociVersion":"1.0.2"}') => ({ typeUrl: 'types.containerd.io/opencontainers/runtime-spec/1/Spec', value: Buffer.from(json) });
const ext = (v: string) => ({ typeUrl: 'test.ext', value: Buffer.from(v) });
const base = (id = 'c1'): ContainerInput => ({ id, image: 'reg/busybox:1', runtime: { name: 'io.containerd.runc.v2' }, spec: spec(), labels: { a: '1' } });

test('containers: create and get; labels with empty values are not stored', async (t) => {
  const { containers } = setup(t);
  const created = await containers.create('ns', { ...base(), labels: { a: '1', gone: '' }, snapshotter: 'overlayfs', snapshotKey: 'c1' }, {});
  assert.deepEqual(created.labels, { a: '1' });
  assert.equal(created.createdAt, created.updatedAt);
  assert.equal(Buffer.from(containers.get('ns', 'c1').spec.value).toString(), '{"ociVersion":"1.0.2"}');
  assert.deepEqual([containers.list('ns').map((c) => c.id), containers.list('other')], [['c1'], []]);
  assert.throws(() => containers.get('ns', 'nope'), kind('not found', /^container "nope" in namespace "ns"$/));
});

test('containers: create validation with containerd messages, nothing appended', async (t) => {
  const { log, containers } = setup(t);
  await containers.create('ns', base(), {});
  const head = log.head;
  const invalid = (input: ContainerInput, message: RegExp) => assert.rejects(containers.create('ns', input, {}), kind('invalid argument', message));
  await invalid({ ...base(), id: '' }, /^create container failed validation: container.ID: identifier must not be empty$/);
  await invalid({ ...base(), id: 'a..b' }, /^create container failed validation: container.ID: identifier "a..b" must match/);
  await invalid({ ...base(), id: 'x'.repeat(77) }, /greater than maximum length \(76 characters\)/);
  await invalid({ ...base('x'), extensions: { '': ext('v') } }, /^create container failed validation: container.Extension keys must not be zero-length$/);
  await invalid({ ...base('x'), labels: { longlabelkey: 'v'.repeat(4090) } }, /^create container failed validation: containers.Labels: label key and value greater than maximum size \(4096 bytes\), key: longlabelk$/);
  await invalid({ ...base('x'), runtime: { name: '' } }, /^create container failed validation: container.Runtime.Name must be set$/);
  await invalid({ ...base('x'), runtime: undefined }, /container.Runtime.Name must be set$/);
  await invalid({ ...base('x'), spec: undefined }, /^create container failed validation: container.Spec must be set$/);
  await invalid({ ...base('x'), snapshotKey: 'k' }, /^create container failed validation: container.Snapshotter must be set if container.SnapshotKey is set$/);
  await assert.rejects(containers.create('ns', base(), {}), kind('already exists', /^container "c1"$/));
  assert.equal(log.head, head);
  assert.deepEqual(containers.list('ns').map((c) => c.id), ['c1']);
});

test('containers: update with field masks follows metadata/containers.go', async (t) => {
  const { containers } = setup(t);
  await containers.create('ns', { ...base(), labels: { a: '1', b: '2' }, extensions: { hello: ext('hello') }, snapshotter: 'native', snapshotKey: 'k1' }, {});

  let c = await containers.update('ns', { id: 'c1', labels: { b: '', c: '3', a: 'ignored' } }, ['labels.b', 'labels.c'], {});
  assert.deepEqual(c.labels, { a: '1', c: '3' }, 'labels.<k> sets or (missing/empty) deletes one key');
  c = await containers.update('ns', { id: 'c1', labels: { 'dotted.key/x': 'v' } }, ['labels.dotted.key/x'], {});
  assert.equal(c.labels['dotted.key/x'], 'v', 'everything after "labels." is the key');
  c = await containers.update('ns', { id: 'c1', extensions: { hello: ext('universe'), bar: ext('foo') } }, ['extensions.bar'], {});
  assert.deepEqual(Object.keys(c.extensions).sort(), ['bar', 'hello']);
  assert.equal(Buffer.from(c.extensions.hello!.value).toString(), 'hello', 'extensions.<k> touches only that key');
  c = await containers.update('ns', { id: 'c1', image: 'reg/other:2', snapshotKey: 'k2', spec: spec('{"ociVersion":"1.1.0"}') }, ['image', 'snapshotkey', 'spec'], {});
  assert.deepEqual([c.image, c.snapshotKey, Buffer.from(c.spec.value).toString()], ['reg/other:2', 'k2', '{"ociVersion":"1.1.0"}']);
  assert.ok(c.updatedAt > c.createdAt);
  const createdAt = c.createdAt;

  // no mask: labels, spec, extensions, image and snapshotkey replaced; runtime options kept
  c = await containers.update('ns', { id: 'c1', runtime: { name: 'io.containerd.runc.v2' }, snapshotter: 'native', spec: spec(), labels: { z: '9' } }, [], {});
  assert.deepEqual([c.labels, c.image, c.snapshotKey, c.extensions, c.createdAt], [{ z: '9' }, '', '', {}, createdAt]);
});

test('containers: update and delete refusals with containerd messages, nothing appended', async (t) => {
  const { log, containers } = setup(t);
  // before the namespace ever had a container, containerd has no bucket and says so
  await assert.rejects(containers.update('ns', { id: 'c1' }, ['labels'], {}), kind('not found', /^cannot update container "c1" in namespace "ns"$/));
  await assert.rejects(containers.delete('ns', 'c1', {}), kind('not found', /^cannot delete container "c1" in namespace "ns"$/));
  await containers.create('ns', { ...base(), snapshotter: 'native', snapshotKey: 'k' }, {});
  const head = log.head;
  await assert.rejects(containers.update('ns', { id: 'c2' }, ['labels'], {}), kind('not found', /^container "c2"$/));
  await assert.rejects(containers.delete('ns', 'c2', {}), kind('not found', /^container c2$/));
  await assert.rejects(containers.update('ns', { id: '' }, ['labels'], {}), (err) => err instanceof StatusError && err.code === 3 && err.message === 'Container.ID required');
  const full = { id: 'c1', runtime: { name: 'io.containerd.runc.v2' }, snapshotter: 'native', spec: spec() };
  await assert.rejects(containers.update('ns', { ...full, snapshotter: 'overlayfs' }, [], {}), kind('invalid argument', /^container.Snapshotter field is immutable$/));
  await assert.rejects(containers.update('ns', { ...full, runtime: { name: 'io.containerd.kata.v2' } }, [], {}), kind('invalid argument', /^container.Runtime.Name field is immutable$/));
  for (const path of ['runtime', 'snapshotter', 'snapshot_key', 'id', 'created_at']) {
    await assert.rejects(containers.update('ns', { id: 'c1' }, [path], {}), kind('invalid argument', new RegExp(`^cannot update "${path}" field on "c1"$`)));
  }
  await assert.rejects(containers.update('ns', { id: 'c1' }, ['spec'], {}), kind('invalid argument', /^update failed validation: container.Spec must be set$/));
  await containers.update('ns', { id: 'c1', snapshotKey: 'x' }, ['snapshotkey'], {});
  assert.equal(log.head, head + 1, 'only the valid snapshotkey update was appended');
  await assert.rejects(
    containers.update('ns', { id: 'c1', labels: { big: 'v'.repeat(5000) } }, ['labels.big'], {}),
    kind('invalid argument', /^update failed validation: containers.Labels: label key and value greater than maximum size/),
  );
  assert.equal(log.head, head + 1);
  await containers.delete('ns', 'c1', {});
  assert.deepEqual(containers.list('ns'), []);
});

test('containers: concurrent creates of one id: exactly one wins', async (t) => {
  const { containers } = setup(t);
  const results = await Promise.allSettled(Array.from({ length: 8 }, () => containers.create('ns', base('same'), {})));
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  for (const r of results) if (r.status === 'rejected') assert.ok(kind('already exists', /container "same"/)(r.reason));
});
