import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventLog } from '../../src/log/index.js';
import { ProjectionSet } from '../../src/projections/index.js';
import { NamespaceCommands, namespaceReadModels } from '../../src/commands/namespaces.js';
import { containerStream, contentStream, imageStream, newEvent, snapshotStream, type TypedEvent } from '../../src/events/index.js';
import { LedgerError } from '../../src/util/errdefs.js';
import { tempDir } from '../helpers/tmp.js';

function setup(t: import('node:test').TestContext) {
  const log = EventLog.open({ dir: tempDir(t) });
  const projections = new ProjectionSet(log);
  const models = namespaceReadModels(projections);
  projections.start();
  t.after(async () => {
    await projections.stop();
    await log.close();
  });
  return { log, projections, namespaces: new NamespaceCommands({ log, projections }, models) };
}

const kind = (k: string, pattern?: RegExp) => (err: unknown) =>
  err instanceof LedgerError && err.kind === k && (!pattern || pattern.test(err.message));

test('create, label with masks, replace without a mask, delete', async (t) => {
  const { log, namespaces } = setup(t);
  const created = await namespaces.create('team-a', { owner: 'me', empty: '' }, { requestNamespace: 'default' });
  assert.deepEqual(created.labels, { owner: 'me' });
  await namespaces.update('team-a', { tier: 'gold' }, ['labels.tier'], {});
  assert.deepEqual(namespaces.get('team-a').labels, { owner: 'me', tier: 'gold' });
  await namespaces.update('team-a', {}, ['labels.owner'], {});
  assert.deepEqual(namespaces.get('team-a').labels, { tier: 'gold' });
  await namespaces.update('team-a', { only: 'this' }, [], {});
  assert.deepEqual(namespaces.get('team-a').labels, { only: 'this' });
  await namespaces.delete('team-a', {});
  assert.deepEqual(namespaces.list(), []);
  assert.deepEqual([...log.read(1)].map((r) => r.type), [
    'NamespaceCreated', 'NamespaceUpdated', 'NamespaceUpdated', 'NamespaceUpdated', 'NamespaceDeleted',
  ]);
  assert.equal([...log.read(1)][0]!.meta.requestNamespace, 'default');
});

test('bad input is refused with the rule, and changes nothing', async (t) => {
  const { log, namespaces } = setup(t);
  await assert.rejects(namespaces.create('bad name', {}, {}), kind('invalid argument', /namespace "bad name" must match/));
  await assert.rejects(namespaces.create('a'.repeat(77), {}, {}), kind('invalid argument', /maximum length/));
  await assert.rejects(namespaces.create('ok', { k: 'v'.repeat(4096) }, {}), kind('invalid argument', /4096 bytes/));
  await namespaces.create('ok', {}, {});
  await assert.rejects(namespaces.update('ok', {}, ['labels'], {}), kind('invalid argument', /cannot update "labels"/));
  await assert.rejects(namespaces.update('ok', {}, ['name'], {}), kind('invalid argument', /cannot update "name"/));
  await assert.rejects(namespaces.create('ok', {}, {}), kind('already exists'));
  await assert.rejects(namespaces.delete('nope', {}), kind('not found'));
  assert.equal(log.head, 1);
});

test('a namespace that still holds images, blobs, containers or snapshots cannot be deleted; containerd names them in its order', async (t) => {
  const { log, projections, namespaces } = setup(t);
  await namespaces.create('busy', {}, {});
  const record = async (...events: TypedEvent[]) => projections.waitFor((await log.append(events)).last);
  const target = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'a'.repeat(64)}`, size: 1, annotations: {} };
  const snapshot = (snapshotter: string, key: string, id: number) =>
    newEvent('SnapshotPrepared', 'busy', snapshotStream(snapshotter), { snapshotter, key, parent: '', kind: 'active', id, labels: {} }, {});
  await record(
    snapshot('overlayfs', 'k1', 1),
    snapshot('native', 'k2', 2),
    newEvent('ContainerCreated', 'busy', containerStream('c1'), { id: 'c1', labels: {}, image: '', runtime: { name: 'io.containerd.runc.v2' }, spec: { typeUrl: 'types.containerd.io/opencontainers/runtime-spec/1/Spec', value: Buffer.from('{}') }, snapshotter: 'overlayfs', snapshotKey: 'k1', extensions: {} }, {}),
    newEvent('ContentCommitted', 'busy', contentStream(target.digest), { digest: target.digest, size: 1, labels: {} }, {}),
    newEvent('ImageCreated', 'busy', imageStream('img'), { name: 'img', labels: {}, target }, {}),
    // another namespace's resources do not hold this one
    newEvent('ImageCreated', 'other', imageStream('img'), { name: 'img', labels: {}, target }, {}),
  );
  const held = 'images, blobs, containers, snapshots on "native" snapshotter, snapshots on "overlayfs" snapshotter';
  await assert.rejects(namespaces.delete('busy', {}), kind('failed precondition', new RegExp(`^namespace "busy" must be empty, but it still has ${held}$`)));
  await record(
    newEvent('ImageDeleted', 'busy', imageStream('img'), { name: 'img' }, {}),
    newEvent('ContentDeleted', 'busy', contentStream(target.digest), { digest: target.digest }, {}),
    newEvent('ContainerDeleted', 'busy', containerStream('c1'), { id: 'c1' }, {}),
    newEvent('SnapshotRemoved', 'busy', snapshotStream('native'), { snapshotter: 'native', key: 'k2', id: 2 }, {}),
  );
  await assert.rejects(namespaces.delete('busy', {}), kind('failed precondition', /still has snapshots on "overlayfs" snapshotter$/));
  assert.ok(namespaces.get('busy').createdAt > 0n, 'a refused delete changes nothing');
  await record(newEvent('SnapshotRemoved', 'busy', snapshotStream('overlayfs'), { snapshotter: 'overlayfs', key: 'k1', id: 1 }, {}));
  await namespaces.delete('busy', {});
  assert.deepEqual(namespaces.list().map((n) => n.name), ['other']);
});

test('update of a missing namespace creates it; get of a missing one never fails', async (t) => {
  const { namespaces } = setup(t);
  assert.deepEqual(namespaces.get('ghost').labels, {});
  await namespaces.update('fresh', { a: 'b' }, [], {});
  assert.deepEqual(namespaces.list().map((n) => n.name), ['fresh']);
});

test('concurrent creates of one namespace: exactly one succeeds, the rest get AlreadyExists', async (t) => {
  const { log, namespaces } = setup(t);
  const results = await Promise.allSettled(Array.from({ length: 20 }, () => namespaces.create('race', {}, {})));
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  for (const r of results) if (r.status === 'rejected') assert.ok(kind('already exists')(r.reason), String(r.reason));
  assert.equal(log.head, 1);
});
