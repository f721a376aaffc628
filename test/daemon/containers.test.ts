// Containers through a real daemon: containerd's validation and field masks, events, namespace
// usage, the GC root a container is for its snapshot, and the real ctr.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { status, type ServiceError } from '@grpc/grpc-js';
import { startRegistry } from '../helpers/harness-services.js';
import { startTestDaemon } from '../helpers/daemon.js';
import { runHarness, skipWithoutHarness } from '../helpers/ctr.js';
import { decodeMessage } from '../../src/api/proto.js';

const CONTAINERS = 'containerd.services.containers.v1.Containers';
const SNAPSHOTS = 'containerd.services.snapshots.v1.Snapshots';
const GC = 'ledgerd.services.gc.v1.GC';
const SPEC = { type_url: 'types.containerd.io/opencontainers/runtime-spec/1/Spec', value: Buffer.from('{"ociVersion":"1.0.2"}') };
const error = (code: number, message: RegExp) => (err: ServiceError) => err.code === code && message.test(err.details);

interface Container {
  id: string;
  labels: Record<string, string>;
  image: string;
  runtime: { name: string };
  spec: { type_url: string; value: Buffer };
  snapshot_key: string;
}

test('create, get, list with filters, update with masks, delete: containerd rules and messages', async (t) => {
  const daemon = await startTestDaemon(t);
  const c = daemon.connect('ctrs');
  const events = c.stream<{ topic: string; event: { type_url: string; value: Buffer } }>('containerd.services.events.v1.Events', 'Subscribe', { filters: ['topic~="^/containers/"'] });
  t.after(() => events.cancel());
  events.on('error', () => undefined);
  const received: { topic: string; event: { type_url: string; value: Buffer } }[] = [];
  events.on('data', (e) => received.push(e));
  await new Promise((resolve) => setTimeout(resolve, 200));

  const base = { id: 'web', image: 'docker.io/library/nginx:1', runtime: { name: 'io.containerd.runc.v2' }, spec: SPEC, labels: { tier: 'front' } };
  const { container } = await c.unary<{ container: Container }>(CONTAINERS, 'Create', { container: base });
  assert.deepEqual([container.id, container.image, container.runtime.name, container.labels], ['web', base.image, 'io.containerd.runc.v2', { tier: 'front' }]);
  assert.ok(Buffer.from(container.spec.value).equals(SPEC.value));
  await c.unary(CONTAINERS, 'Create', { container: { ...base, id: 'db', labels: { tier: 'back' } } });

  await assert.rejects(c.unary(CONTAINERS, 'Create', { container: base }), error(status.ALREADY_EXISTS, /container "web": already exists/));
  await assert.rejects(c.unary(CONTAINERS, 'Create', { container: { ...base, id: 'x', runtime: { name: '' } } }), error(status.INVALID_ARGUMENT, /container.Runtime.Name must be set/));
  await assert.rejects(c.unary(CONTAINERS, 'Create', { container: { ...base, id: 'x', spec: null } }), error(status.INVALID_ARGUMENT, /container.Spec must be set/));
  await assert.rejects(c.unary(CONTAINERS, 'Create', { container: { ...base, id: 'x', snapshot_key: 'k' } }), error(status.INVALID_ARGUMENT, /Snapshotter must be set if container.SnapshotKey is set/));
  await assert.rejects(c.unary(CONTAINERS, 'Create', { container: { ...base, id: 'bad id' } }), error(status.INVALID_ARGUMENT, /container.ID/));
  await assert.rejects(c.unary(CONTAINERS, 'Get', { id: 'nope' }), error(status.NOT_FOUND, /container "nope" in namespace "ctrs": not found/));

  const { containers } = await c.unary<{ containers: Container[] }>(CONTAINERS, 'List', { filters: ['labels.tier==back'] });
  assert.deepEqual(containers.map((x) => x.id), ['db']);

  const streamed: string[] = [];
  const listStream = c.stream<{ container: Container }>(CONTAINERS, 'ListStream', { filters: ['runtime.name==io.containerd.runc.v2'] });
  for await (const message of listStream) streamed.push(message.container.id);
  assert.deepEqual(streamed, ['db', 'web'], 'one container per message, in id order');
  await assert.rejects(c.unary(CONTAINERS, 'List', { filters: ['labels.tier=='] }), error(status.INVALID_ARGUMENT, /parse error/));
  await assert.rejects(c.unary(CONTAINERS, 'Update', { container: { labels: { a: 'b' } } }), error(status.INVALID_ARGUMENT, /^Container.ID required$/));

  const before = await c.unary<{ container: Container }>(CONTAINERS, 'Get', { id: 'web' });
  assert.deepEqual(before.container.labels, { tier: 'front' });
  assert.ok(Buffer.from(before.container.spec.value).equals(SPEC.value));
  const masked = await c.unary<{ container: Container }>(CONTAINERS, 'Update', {
    container: { id: 'web', labels: { owner: 'ops' }, image: 'ignored' },
    update_mask: { paths: ['labels.owner'] },
  });
  assert.deepEqual([masked.container.labels, masked.container.image], [{ tier: 'front', owner: 'ops' }, base.image]);
  // a Get answers the view as it is now, not the reply it sent for the one before the Update
  const after = await c.unary<{ container: Container }>(CONTAINERS, 'Get', { id: 'web' });
  assert.deepEqual(after.container, masked.container);
  await assert.rejects(
    c.unary(CONTAINERS, 'Update', { container: { id: 'web', runtime: { name: 'io.containerd.runc.v2' }, snapshotter: 'native', spec: SPEC } }),
    error(status.INVALID_ARGUMENT, /container.Snapshotter field is immutable/),
  );
  await assert.rejects(
    c.unary(CONTAINERS, 'Update', { container: { id: 'web' }, update_mask: { paths: ['runtime'] } }),
    error(status.INVALID_ARGUMENT, /cannot update "runtime" field on "web"/),
  );

  await assert.rejects(
    c.unary('containerd.services.namespaces.v1.Namespaces', 'Delete', { name: 'ctrs' }),
    error(status.FAILED_PRECONDITION, /containers/),
  );
  await c.unary(CONTAINERS, 'Delete', { id: 'web' });
  await assert.rejects(c.unary(CONTAINERS, 'Delete', { id: 'web' }), error(status.NOT_FOUND, /^container web: not found$/));

  for (let i = 0; i < 50 && received.length < 4; i++) await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(received.map((e) => e.topic), ['/containers/create', '/containers/create', '/containers/update', '/containers/delete']);
  assert.deepEqual(decodeMessage('containerd.events.ContainerUpdate', received[2]!.event.value), {
    id: 'web',
    image: base.image,
    labels: { tier: 'front', owner: 'ops' },
    snapshot_key: '',
  });
});

test("a container is a GC root for its snapshot (and its snapshot's parents)", async (t) => {
  const daemon = await startTestDaemon(t);
  const c = daemon.connect('ctrgc');
  await c.unary(SNAPSHOTS, 'Prepare', { snapshotter: 'native', key: 'base-x', parent: '' });
  await c.unary(SNAPSHOTS, 'Commit', { snapshotter: 'native', name: 'base', key: 'base-x' });
  await c.unary(SNAPSHOTS, 'Prepare', { snapshotter: 'native', key: 'app', parent: 'base' });
  await c.unary(SNAPSHOTS, 'Prepare', { snapshotter: 'native', key: 'stray', parent: 'base' });
  await c.unary(CONTAINERS, 'Create', { container: { id: 'app', runtime: { name: 'io.containerd.runc.v2' }, spec: SPEC, snapshotter: 'native', snapshot_key: 'app' } });
  const { deleted } = await c.unary<{ deleted: { key: string }[] }>(GC, 'Collect', {});
  assert.deepEqual(deleted.map((n) => n.key), ['native/stray']);
  await c.unary(CONTAINERS, 'Delete', { id: 'app' });
  await c.unary(GC, 'Collect', {}); // the deletion may already have triggered one: look at what is left
  const left: { info: { name: string }[] }[] = [];
  const listed = c.stream<{ info: { name: string }[] }>(SNAPSHOTS, 'List', { snapshotter: 'native' });
  await new Promise((resolve, reject) => listed.on('data', (m) => left.push(m)).on('end', resolve).on('error', reject));
  assert.deepEqual(left.flatMap((m) => m.info.map((i) => i.name)), []);
});

test('the containers steps of shared/harness/ctr-conformance.sh pass', { skip: skipWithoutHarness }, async (t) => {
  const daemon = await startTestDaemon(t);
  const registry = startRegistry(t, 5124); // the steps pull the harness images
  const { out, code } = await runHarness(daemon.address, '^containers\\.', { REGISTRY: registry });
  assert.match(out, /^5 passed, 0 failed$/m, out);
  assert.equal(code, 0);
});
