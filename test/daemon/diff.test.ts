// The Diff service through a real daemon: layers from the content store applied onto real
// snapshots (overlayfs upperdirs and native directories), checked blobs, refused archives,
// and Diff writing a layer that applies back to the same tree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { status, type ServiceError } from '@grpc/grpc-js';
import { startTestDaemon } from '../helpers/daemon.js';
import { tempDir } from '../helpers/tmp.js';
import { upload } from '../helpers/write-session.js';
import { withTempMount, type Mount } from '../../src/mount/index.js';
import { gzip, OCI_GZIP, OCI_TAR, OCI_ZSTD, sha256, snapshot, tarLayer, zstd, type Entry } from '../diff/layers.js';
import type { Connection } from '../../src/cli/grpc-client.js';

const DIFF = 'containerd.services.diff.v1.Diff';
const SNAPSHOTS = 'containerd.services.snapshots.v1.Snapshots';
const CONTENT = 'containerd.services.content.v1.Content';
const ROOT = { 'containerd.io/gc.root': 'test' };
const skip = process.getuid?.() !== 0 ? 'mounting needs root' : false;

const BASE: Entry[] = [
  { name: 'etc/', type: 'directory', mode: 0o755 },
  { name: 'etc/hostname', content: 'base\n', mode: 0o644 },
  { name: 'bin/', type: 'directory', mode: 0o755 },
  { name: 'bin/tool', content: '#!/bin/sh\necho tool\n', mode: 0o755 },
  { name: 'bin/alias', type: 'symlink', linkname: 'tool' },
  { name: 'opt/', type: 'directory', mode: 0o700, uid: 1000, gid: 1000 },
  { name: 'opt/data', content: 'kept', uid: 1000, gid: 1000 },
];
const TOP: Entry[] = [
  { name: 'etc/.wh.hostname', content: '' },
  { name: 'opt/.wh..wh..opq', content: '' },
  { name: 'opt/fresh', content: 'new' },
  { name: 'bin/copy', content: 'linked twice' },
  { name: 'bin/hard', type: 'link', linkname: 'bin/copy' },
];

async function store(c: Connection, ref: string, blob: Buffer): Promise<string> {
  await upload(c, ref, blob, { labels: ROOT }).catch((err: ServiceError) => {
    if (err.code !== status.ALREADY_EXISTS) throw err;
  });
  return sha256(blob);
}

const apply = (c: Connection, mediaType: string, digest: string, size: number, mounts: unknown[]) =>
  c.unary<{ applied: { media_type: string; digest: string; size: number } }>(DIFF, 'Apply', { diff: { media_type: mediaType, digest, size }, mounts });

/** Unpacks base then top as containerd's unpacker does: prepare, apply, commit per layer. */
async function unpack(c: Connection, snapshotter: string, layers: { mediaType: string; blob: Buffer; tar: Buffer }[]): Promise<Mount[]> {
  let parent = '';
  for (const [i, layer] of layers.entries()) {
    const digest = await store(c, `layer-${snapshotter}-${i}`, layer.blob);
    const { mounts } = await c.unary<{ mounts: Mount[] }>(SNAPSHOTS, 'Prepare', { snapshotter, key: `extract-${i}`, parent, labels: ROOT });
    const { applied } = await apply(c, layer.mediaType, digest, layer.blob.length, mounts);
    assert.deepEqual([applied.media_type, applied.digest, Number(applied.size)], [OCI_TAR, sha256(layer.tar), layer.tar.length]);
    await c.unary(SNAPSHOTS, 'Commit', { snapshotter, name: `layer-${i}`, key: `extract-${i}`, labels: ROOT });
    parent = `layer-${i}`;
  }
  const { mounts } = await c.unary<{ mounts: Mount[] }>(SNAPSHOTS, 'View', { snapshotter, key: 'view', parent, labels: ROOT });
  return mounts;
}

test('Apply gzip, zstd and plain layers onto overlayfs and native snapshots: whiteouts, opaque dirs, links, owners', { skip }, async (t) => {
  const daemon = await startTestDaemon(t);
  const c = daemon.connect('diffns');
  const base = await tarLayer(BASE);
  const top = await tarLayer(TOP);
  const trees: Record<string, unknown> = {};
  for (const snapshotter of ['overlayfs', 'native']) {
    const mounts = await unpack(c, snapshotter, [
      { mediaType: OCI_GZIP, blob: gzip(base), tar: base },
      { mediaType: snapshotter === 'overlayfs' ? OCI_ZSTD : OCI_TAR, blob: snapshotter === 'overlayfs' ? await zstd(top) : top, tar: top },
    ]);
    trees[snapshotter] = await withTempMount(mounts, async (root) => snapshot(root));
  }
  const tree = trees.overlayfs as Record<string, { type: string; uid: number; sha?: string; link?: string }>;
  assert.deepEqual(Object.keys(tree).sort(), ['bin', 'bin/alias', 'bin/copy', 'bin/hard', 'bin/tool', 'etc', 'opt', 'opt/fresh']);
  assert.equal(tree['bin/alias']!.link, 'tool');
  assert.equal(tree.opt!.uid, 1000);
  assert.deepEqual(trees.native, trees.overlayfs);
});

test('Apply refuses a blob whose bytes do not match its digest, an unknown blob or media type, and an escaping layer', { skip }, async (t) => {
  const daemon = await startTestDaemon(t);
  const c = daemon.connect('diffbad');
  const { mounts } = await c.unary<{ mounts: Mount[] }>(SNAPSHOTS, 'Prepare', { snapshotter: 'native', key: 'target', parent: '', labels: ROOT });
  const code = (expected: number, message: RegExp) => (err: ServiceError) => err.code === expected && message.test(err.details);

  const layer = gzip(await tarLayer([{ name: 'a', content: 'x' }]));
  const digest = await store(c, 'good', layer);
  await assert.rejects(apply(c, OCI_GZIP, sha256(Buffer.from('nothing')), 7, mounts), code(status.NOT_FOUND, /not found/));
  await assert.rejects(apply(c, 'application/x-unknown', digest, layer.length, mounts), code(status.UNIMPLEMENTED, /no processor for media-type/));
  await assert.rejects(apply(c, OCI_GZIP, digest, layer.length + 1, mounts), code(status.FAILED_PRECONDITION, /the descriptor says/));
  await assert.rejects(apply(c, OCI_GZIP, digest, layer.length, []), code(status.INVALID_ARGUMENT, /mounts must not be empty/));

  const outside = tempDir(t);
  const escaping = await tarLayer([
    { name: 'link', type: 'symlink', linkname: '../../../../../../../..' + outside },
    { name: 'link/escaped', content: 'should not exist' },
  ]);
  await assert.rejects(apply(c, OCI_TAR, await store(c, 'escape', escaping), escaping.length, mounts), code(status.INVALID_ARGUMENT, /through-layer-symlink|symlink/));
  const traversal = await tarLayer([{ name: '../evil', content: 'x' }]);
  await assert.rejects(apply(c, OCI_TAR, await store(c, 'dotdot', traversal), traversal.length, mounts), code(status.INVALID_ARGUMENT, /"\.\." path components are not allowed/));
  assert.deepEqual(snapshot(outside), {});
});

test('Diff writes the layer between two snapshots into content; applying it reproduces the tree', { skip }, async (t) => {
  const daemon = await startTestDaemon(t);
  const c = daemon.connect('diffout');
  const base = await tarLayer(BASE);
  const lower = await unpack(c, 'overlayfs', [{ mediaType: OCI_TAR, blob: base, tar: base }]);
  const { mounts: upper } = await c.unary<{ mounts: Mount[] }>(SNAPSHOTS, 'Prepare', { snapshotter: 'overlayfs', key: 'work', parent: 'layer-0', labels: ROOT });
  await withTempMount(upper, async (root) => {
    const { writeFileSync, rmSync } = await import('node:fs');
    writeFileSync(join(root, 'etc', 'added'), 'added\n');
    rmSync(join(root, 'bin', 'alias'));
    mkdirSync(join(root, 'newdir'));
  });
  const { diff } = await c.unary<{ diff: { media_type: string; digest: string; size: number } }>(DIFF, 'Diff', { left: lower, right: upper, ref: 'my-diff', labels: ROOT });
  assert.equal(diff.media_type, OCI_GZIP);
  const { info } = await c.unary<{ info: { labels: Record<string, string>; size: number } }>(CONTENT, 'Info', { digest: diff.digest });
  assert.match(info.labels['containerd.io/uncompressed']!, /^sha256:[0-9a-f]{64}$/);
  assert.equal(Number(info.size), Number(diff.size));

  const { mounts: replay } = await c.unary<{ mounts: Mount[] }>(SNAPSHOTS, 'Prepare', { snapshotter: 'overlayfs', key: 'replay', parent: 'layer-0', labels: ROOT });
  const { applied } = await apply(c, OCI_GZIP, diff.digest, Number(diff.size), replay);
  assert.equal(applied.digest, info.labels['containerd.io/uncompressed']);
  const expected = await withTempMount(upper, async (root) => snapshot(root, { times: true }));
  const actual = await withTempMount(replay, async (root) => snapshot(root, { times: true }));
  assert.deepEqual(actual, expected);
  assert.equal(actual['bin/alias'], undefined);
  await assert.rejects(c.unary(DIFF, 'Diff', { left: lower, right: upper, media_type: 'application/x-tar+bzip2' }), (err: ServiceError) => err.code === status.UNIMPLEMENTED);
});
