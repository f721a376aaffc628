// Garbage collection of content, uploads and snapshots through a real daemon: containerd's
// reference graph, leases that hold writes made under them, blob files removed after the records,
// and the reconciliation of what a crash left behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestDaemon, LEDGERCTL, type TestDaemon } from '../helpers/daemon.js';
import { upload, WriteSession } from '../helpers/write-session.js';
import type { Connection } from '../../src/cli/grpc-client.js';

const GC = 'ledgerd.services.gc.v1.GC';
const LEASES = 'containerd.services.leases.v1.Leases';
const IMAGES = 'containerd.services.images.v1.Images';
const SNAPSHOTS = 'containerd.services.snapshots.v1.Snapshots';
const LOG = 'ledgerd.services.log.v1.Log';
const LEASE_HEADER = 'containerd-lease';
const ROOT = { 'containerd.io/gc.root': 'test' };

const digestOf = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const blobFile = (daemon: TestDaemon, digest: string) => join(daemon.root, 'io.containerd.content.v1.content', 'blobs', 'sha256', digest.slice(7));
const collect = (c: Connection) => c.unary<{ deleted: { kind: string; key: string }[]; files: string[]; failures: string[] }>(GC, 'Collect', {});
const infoOf = (c: Connection, digest: string) => c.unary('containerd.services.content.v1.Content', 'Info', { digest });

async function gcDeletions(c: Connection): Promise<{ type: string; payload: Record<string, unknown> }[]> {
  const records: { type: string; payload_json: string; meta_json: string }[] = [];
  const stream = c.stream<{ type: string; payload_json: string; meta_json: string }>(LOG, 'Read', { from_seq: 1 });
  await new Promise((resolve, reject) => stream.on('data', (r) => records.push(r)).on('end', resolve).on('error', reject));
  return records.filter((r) => JSON.parse(r.meta_json).reason === 'gc').map((r) => ({ type: r.type, payload: JSON.parse(r.payload_json) }));
}

test('unreferenced content is collected with reason gc and its file removed; gc.root and other namespaces keep theirs', async (t) => {
  const daemon = await startTestDaemon(t);
  const a = daemon.connect('gca');
  const b = daemon.connect('gcb');
  const loose = Buffer.from('nobody holds me');
  const rooted = Buffer.from('a root holds me');
  await upload(a, 'loose', loose);
  await upload(a, 'rooted', rooted, { labels: ROOT });
  await upload(b, 'shared', loose, { labels: ROOT }); // the same bytes, held in another namespace

  const result = await collect(a);
  assert.deepEqual(result.failures, []);
  assert.deepEqual(result.deleted.map((n) => `${n.kind} ${n.key}`), [`content ${digestOf(loose)}`]);
  assert.deepEqual(result.files, [], 'namespace gcb still holds the bytes');
  await assert.rejects(infoOf(a, digestOf(loose)), /not found/);
  await infoOf(b, digestOf(loose));
  await infoOf(a, digestOf(rooted));
  assert.ok(existsSync(blobFile(daemon, digestOf(loose))));

  await b.unary('containerd.services.content.v1.Content', 'Update', { info: { digest: digestOf(loose), labels: {} }, update_mask: { paths: ['labels'] } });
  const second = await collect(b);
  assert.deepEqual(second.files, [digestOf(loose)]);
  assert.ok(!existsSync(blobFile(daemon, digestOf(loose))));
  assert.ok(existsSync(blobFile(daemon, digestOf(rooted))));
  const deletions = await gcDeletions(a);
  assert.deepEqual(
    deletions.map((d) => [d.type, d.payload.digest, d.payload.reason]),
    [
      ['ContentDeleted', digestOf(loose), 'gc'],
      ['ContentDeleted', digestOf(loose), 'gc'],
    ],
  );
});

test('a lease holds what is written under it (blobs, uploads, snapshots); deleting it with sync collects them', async (t) => {
  const daemon = await startTestDaemon(t);
  const c = daemon.connect('leased');
  await c.unary(LEASES, 'Create', { id: 'pull' });
  const under = { [LEASE_HEADER]: 'pull' };
  const blob = Buffer.from('layer bytes');
  await upload(c, 'layer', blob, { extra: under });
  const partial = new WriteSession(c, under);
  await partial.send({ action: 'STAT', ref: 'half', total: 100 });
  await partial.send({ action: 'WRITE', offset: 0, data: Buffer.alloc(10, 1) });
  await partial.close();
  await c.unary(SNAPSHOTS, 'Prepare', { snapshotter: 'native', key: 'extract', parent: '' }, under);
  await c.unary(SNAPSHOTS, 'Commit', { snapshotter: 'native', name: 'layer-1', key: 'extract' }, under);
  await c.unary(SNAPSHOTS, 'Prepare', { snapshotter: 'native', key: 'next', parent: 'layer-1' }, under);

  const { resources } = await c.unary<{ resources: { id: string; type: string }[] }>(LEASES, 'ListResources', { id: 'pull' });
  assert.deepEqual(
    resources.map((r) => `${r.type} ${r.id}`).sort(),
    [`content ${digestOf(blob)}`, 'ingests half', 'snapshots/native layer-1', 'snapshots/native next'],
  );
  const kept = await collect(c);
  assert.deepEqual(kept.deleted, []);

  await c.unary(LEASES, 'Delete', { id: 'pull', sync: true });
  await assert.rejects(infoOf(c, digestOf(blob)), /not found/);
  assert.ok(!existsSync(blobFile(daemon, digestOf(blob))));
  const { snapshots } = await c.unary<{ snapshots: unknown[] }>(SNAPSHOTS, 'Usage', { snapshotter: 'native', key: 'layer-1' }).then(
    () => ({ snapshots: ['still there'] }),
    () => ({ snapshots: [] }),
  );
  assert.deepEqual(snapshots, []);
  assert.deepEqual(readdirSync(join(daemon.root, 'io.containerd.snapshotter.v1.native', 'snapshots')), []);
  const { statuses } = await c.unary<{ statuses: unknown[] }>('containerd.services.content.v1.Content', 'ListStatuses', {});
  assert.deepEqual(statuses, []);
  const deletions = (await gcDeletions(c)).map((d) => `${d.type} ${String(d.payload.key ?? d.payload.ref ?? d.payload.digest)}`);
  // children before parents, uploads before blobs
  assert.deepEqual(deletions, ['SnapshotRemoved next', 'SnapshotRemoved layer-1', 'ContentIngestAborted half', `ContentDeleted ${digestOf(blob)}`]);
});

test('an image keeps its manifest, layers and unpacked snapshots through gc.ref labels; ledgerctl why explains both ways', async (t) => {
  const daemon = await startTestDaemon(t);
  const c = daemon.connect('img');
  await c.unary(SNAPSHOTS, 'Prepare', { snapshotter: 'native', key: 'x', parent: '' });
  await c.unary(SNAPSHOTS, 'Commit', { snapshotter: 'native', name: 'chain-1', key: 'x' });
  const layer = Buffer.from('layer');
  const config = Buffer.from('{"rootfs":{}}');
  const manifest = Buffer.from(JSON.stringify({ config: digestOf(config), layers: [digestOf(layer)] }));
  await upload(c, 'layer', layer, { labels: ROOT }); // held while the manifest is written, as a pull's lease would
  await upload(c, 'config', config, { labels: { 'containerd.io/gc.ref.snapshot.native': 'chain-1' } });
  await upload(c, 'manifest', manifest, {
    labels: { 'containerd.io/gc.ref.content.config': digestOf(config), 'containerd.io/gc.ref.content.l.0': digestOf(layer) },
  });
  const target = { media_type: 'application/vnd.oci.image.manifest.v1+json', digest: digestOf(manifest), size: manifest.length };
  await c.unary(IMAGES, 'Create', { image: { name: 'example:1', target } });
  await c.unary('containerd.services.content.v1.Content', 'Update', { info: { digest: digestOf(layer), labels: {} }, update_mask: { paths: ['labels'] } });

  assert.deepEqual((await collect(c)).deleted, []);
  const why = execFileSync(process.execPath, [LEDGERCTL, '-a', daemon.address, '-n', 'img', 'why', '--snapshotter', 'native', 'chain-1'], { encoding: 'utf8' });
  assert.match(why, /snapshot native\/chain-1 is referenced by content sha256:\S+ \(containerd\.io\/gc\.ref\.snapshot\.native\)/);
  assert.match(why, /is a root: image example:1/);

  await c.unary(IMAGES, 'Delete', { name: 'example:1', sync: true });
  for (const data of [layer, config, manifest]) assert.ok(!existsSync(blobFile(daemon, digestOf(data))));
  const gone = execFileSync(process.execPath, [LEDGERCTL, '-a', daemon.address, '-n', 'img', 'why', digestOf(layer)], { encoding: 'utf8' });
  assert.match(gone, /was deleted at seq \d+ .* by ContentDeleted \(reason gc, collection at seq \d+\)/);
});

test('start-up reconciliation removes blob files and uploads without their facts, and keeps what the log owns', async (t) => {
  const daemon = await startTestDaemon(t);
  const c = daemon.connect('recon');
  const kept = Buffer.from('recorded');
  await upload(c, 'kept', kept, { labels: ROOT });
  const partial = new WriteSession(c);
  await partial.send({ action: 'STAT', ref: 'resumable', total: 10 });
  await partial.send({ action: 'WRITE', offset: 0, data: Buffer.alloc(4, 7) });
  await partial.close();
  assert.equal(await daemon.stop(), 0);

  // a crash between rename and ContentCommitted, and an ingest directory opened before its event
  const orphan = Buffer.from('renamed, never recorded');
  writeFileSync(blobFile(daemon, digestOf(orphan)), orphan);
  const ingestDir = join(daemon.root, 'io.containerd.content.v1.content', 'ingest', createHash('sha256').update('recon/1/never-recorded').digest('hex'));
  mkdirSync(ingestDir);
  writeFileSync(join(ingestDir, 'ref'), 'recon/1/never-recorded');
  writeFileSync(join(ingestDir, 'data'), 'xx');

  const again = await daemon.restart();
  assert.match(again.output(), /reconciled: upload recon\/1\/never-recorded/);
  assert.match(again.output(), new RegExp(`reconciled: blob ${digestOf(orphan)}`));
  assert.ok(!existsSync(blobFile(again, digestOf(orphan))));
  assert.ok(!existsSync(ingestDir));
  assert.ok(existsSync(blobFile(again, digestOf(kept))));
  const status = await again.connect('recon').unary<{ status: { offset: number } }>('containerd.services.content.v1.Content', 'Status', { ref: 'resumable' });
  assert.equal(Number(status.status.offset), 4);
});
