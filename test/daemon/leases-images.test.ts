import { test } from 'node:test';
import assert from 'node:assert/strict';
import { status, type ServiceError } from '@grpc/grpc-js';
import { startTestDaemon } from '../helpers/daemon.js';
import { ctrAt, runHarness, skipWithoutCtr, skipWithoutHarness } from '../helpers/ctr.js';
import { decodeMessage } from '../../src/api/proto.js';

const IMAGES = 'containerd.services.images.v1.Images';
const ctr = (address: string, ...args: string[]) => ctrAt(address, 'leasetest')(...args);

test('ctr leases create, ls and rm (also --sync) work unchanged', { skip: skipWithoutCtr }, async (t) => {
  const daemon = await startTestDaemon(t);
  const a = daemon.address;
  assert.equal(ctr(a, 'leases', 'create', '--id', 'held', '--expires', '1h', 'team=blue').trim(), 'held');
  const generated = ctr(a, 'leases', 'create').trim();
  assert.match(generated, /^\d+-[A-Za-z0-9_-]{4}$/);
  assert.match(ctr(a, 'leases', 'ls'), /^held\s+\S+\s+.*containerd\.io\/gc\.expire=.*team=blue/m);
  ctr(a, 'leases', 'rm', 'held');
  ctr(a, 'leases', 'rm', '--sync', generated);
  assert.equal(ctr(a, 'leases', 'ls', '-q').trim(), '');
  assert.throws(() => ctr(a, 'leases', 'rm', 'held'), /not found/);
});

test('images over gRPC: create, get, list with filters, update, delete; events and namespace usage', async (t) => {
  const daemon = await startTestDaemon(t);
  const c = daemon.connect('imgns');
  const events = c.stream<{ topic: string; event: { type_url: string; value: Buffer } }>('containerd.services.events.v1.Events', 'Subscribe', {
    filters: ['topic~="^/images/"'],
  });
  const received: { topic: string; event: { type_url: string; value: Buffer } }[] = [];
  events.on('data', (e) => received.push(e));
  events.on('error', () => {});
  await new Promise((r) => setTimeout(r, 200));

  const target = { media_type: 'application/vnd.oci.image.index.v1+json', digest: `sha256:${'b'.repeat(64)}`, size: 512, annotations: {} };
  await c.unary(IMAGES, 'Create', { image: { name: 'docker.io/library/busybox:latest', labels: { l: 'v' }, target } });
  await c.unary(IMAGES, 'Create', { image: { name: 'other:1', target: { ...target, media_type: 'application/vnd.oci.image.manifest.v1+json' } } });
  const got = await c.unary<{ image: { name: string; target: { size: number }; created_at: { seconds: number } } }>(IMAGES, 'Get', { name: 'other:1' });
  assert.equal(got.image.target.size, 512);
  assert.ok(got.image.created_at.seconds > 1_700_000_000);
  const listed = await c.unary<{ images: { name: string }[] }>(IMAGES, 'List', { filters: ['target.mediatype~="index"', 'labels.l==v'] });
  assert.deepEqual(listed.images.map((i) => i.name), ['docker.io/library/busybox:latest']);
  await c.unary(IMAGES, 'Update', { image: { name: 'other:1', labels: { x: 'y' } }, update_mask: { paths: ['labels.x'] } });
  const updated = await c.unary<{ image: { labels: Record<string, string> } }>(IMAGES, 'Get', { name: 'other:1' });
  assert.deepEqual(updated.image.labels, { x: 'y' }, 'Get answers the image as it is after the Update');
  await assert.rejects(c.unary(IMAGES, 'Get', { name: 'missing' }), (e: ServiceError) => e.code === status.NOT_FOUND);
  await assert.rejects(
    c.unary(IMAGES, 'Create', { image: { name: 'bad', target: { ...target, size: 0 } } }),
    (e: ServiceError) => e.code === status.INVALID_ARGUMENT && /Target.Size must be greater than zero/.test(e.details),
  );

  await assert.rejects(
    c.unary('containerd.services.namespaces.v1.Namespaces', 'Delete', { name: 'imgns' }),
    (e: ServiceError) => e.code === status.FAILED_PRECONDITION && /must be empty, but it still has images/.test(e.details),
  );
  await c.unary(IMAGES, 'Delete', { name: 'other:1' });
  await c.unary(IMAGES, 'Delete', { name: 'docker.io/library/busybox:latest', sync: true });
  await c.unary('containerd.services.namespaces.v1.Namespaces', 'Delete', { name: 'imgns' });

  for (let i = 0; i < 50 && received.length < 5; i++) await new Promise((r) => setTimeout(r, 50));
  events.cancel();
  assert.deepEqual(received.map((e) => [e.topic, e.event.type_url]), [
    ['/images/create', 'containerd.services.images.v1.ImageCreate'],
    ['/images/create', 'containerd.services.images.v1.ImageCreate'],
    ['/images/update', 'containerd.services.images.v1.ImageUpdate'],
    ['/images/delete', 'containerd.services.images.v1.ImageDelete'],
    ['/images/delete', 'containerd.services.images.v1.ImageDelete'],
  ]);
  assert.deepEqual(decodeMessage('containerd.services.images.v1.ImageUpdate', received[2]!.event.value), { name: 'other:1', labels: { x: 'y' } });
});

test('the lease steps of shared/harness/ctr-conformance.sh pass', { skip: skipWithoutHarness }, async (t) => {
  const daemon = await startTestDaemon(t);
  const { out, code } = await runHarness(daemon.address, '^leases\\.');
  assert.match(out, /^3 passed, 0 failed$/m, out);
  assert.equal(code, 0);
});

test('gc: an expired lease is collected by the next collection, with reason gc in the log', async (t) => {
  const daemon = await startTestDaemon(t);
  const c = daemon.connect('gcns');
  const L = 'containerd.services.leases.v1.Leases';
  await c.unary(L, 'Create', { id: 'expired', labels: { 'containerd.io/gc.expire': '2020-01-01T00:00:00Z' } });
  await c.unary(L, 'Create', { id: 'fresh', labels: { 'containerd.io/gc.expire': '2999-01-01T00:00:00Z' } });
  await c.unary(L, 'Create', { id: 'trigger' });
  await c.unary(L, 'Delete', { id: 'trigger', sync: true });
  const left = await c.unary<{ leases: { id: string }[] }>(L, 'List', {});
  assert.deepEqual(left.leases.map((l) => l.id), ['fresh']);
  const records: { type: string; payload_json: string; meta_json: string }[] = [];
  const stream = c.stream<{ type: string; payload_json: string; meta_json: string }>('ledgerd.services.log.v1.Log', 'Read', { from_seq: 1, filters: ['type==LeaseDeleted'] });
  await new Promise((resolve, reject) => stream.on('data', (r) => records.push(r)).on('end', resolve).on('error', reject));
  const byGc = records.map((r) => [JSON.parse(r.payload_json), JSON.parse(r.meta_json).reason]).filter(([, reason]) => reason === 'gc');
  assert.deepEqual(byGc.map(([payload]) => payload), [{ id: 'expired', reason: 'gc' }]);
});
