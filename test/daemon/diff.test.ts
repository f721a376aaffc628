// The Diff service through a real daemon: layers from the content store applied onto real
// snapshots (overlayfs upperdirs and native directories), checked blobs, refused archives,
// and Diff writing a layer that applies back to the same tree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { status, type ServiceError } from '@grpc/grpc-js';
import { startTestDaemon } from '../helpers/daemon.js';
import { tempDir } from '../helpers/tmp.js';
import { upload } from '../helpers/write-session.js';
import { withTempMount, type Mount } from '../../src/util/mount/index.js';
import { lgetxattr } from '../../src/diff/syscalls.js';
import { ctrAt, runHarness, skipWithoutHarness } from '../helpers/ctr.js';
import { skipWithoutReference, startRegistry } from '../helpers/harness-services.js';
import { gzip, OCI_GZIP, OCI_TAR, OCI_ZSTD, sha256, snapshot, tarLayer, zstd, type Entry, type Node } from '../diff/layers.js';
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
const MID: Entry[] = [
  { name: 'usr/', type: 'directory', mode: 0o755 },
  { name: 'usr/lib/', type: 'directory', mode: 0o755 },
  { name: 'usr/lib/libx.so', content: Buffer.alloc(100_000, 7) },
  { name: 'bin/.wh.tool', content: '' },
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

const upperdir = (mounts: Mount[]) => mounts[0]?.options.find((o) => o.startsWith('upperdir='))?.slice('upperdir='.length);
/** The directory a layer goes into: the overlay upperdir, or the bind mount's source. */
const targetDir = (mounts: Mount[]) => upperdir(mounts) ?? mounts[0]!.source;

interface Layer {
  mediaType: string;
  blob: Buffer;
  tar: Buffer;
}

/**
 * Unpacks the layers as containerd's unpacker does (prepare, apply, commit per layer); returns a
 * view's mounts and what each layer's target directory held right after its Apply.
 */
async function unpack(c: Connection, snapshotter: string, layers: Layer[]): Promise<{ view: Mount[]; applied: Record<string, Node>[] }> {
  let parent = '';
  const applied: Record<string, Node>[] = [];
  for (const [i, layer] of layers.entries()) {
    const digest = await store(c, `layer-${snapshotter}-${i}`, layer.blob);
    const { mounts } = await c.unary<{ mounts: Mount[] }>(SNAPSHOTS, 'Prepare', { snapshotter, key: `extract-${i}`, parent, labels: ROOT });
    const { applied: descriptor } = await apply(c, layer.mediaType, digest, layer.blob.length, mounts);
    assert.deepEqual([descriptor.media_type, descriptor.digest, Number(descriptor.size)], [OCI_TAR, sha256(layer.tar), layer.tar.length]);
    applied.push(snapshot(targetDir(mounts)));
    await c.unary(SNAPSHOTS, 'Commit', { snapshotter, name: `layer-${i}`, key: `extract-${i}`, labels: ROOT });
    parent = `layer-${i}`;
  }
  const { mounts } = await c.unary<{ mounts: Mount[] }>(SNAPSHOTS, 'View', { snapshotter, key: 'view', parent, labels: ROOT });
  return { view: mounts, applied };
}

test('Apply gzip, zstd and plain layers onto overlayfs and native snapshots: whiteouts, opaque dirs, links, owners', { skip }, async (t) => {
  const daemon = await startTestDaemon(t);
  const c = daemon.connect('diffns');
  const [base, mid, top] = [await tarLayer(BASE), await tarLayer(MID), await tarLayer(TOP)];
  const layers: Layer[] = [
    { mediaType: OCI_GZIP, blob: gzip(base), tar: base },
    { mediaType: OCI_ZSTD, blob: await zstd(mid), tar: mid },
    { mediaType: OCI_TAR, blob: top, tar: top },
  ];
  const trees: Record<string, unknown> = {};
  const upper: Record<string, Record<string, Node>[]> = {};
  for (const snapshotter of ['overlayfs', 'native']) {
    const { view, applied } = await unpack(c, snapshotter, layers);
    upper[snapshotter] = applied;
    trees[snapshotter] = await withTempMount(view, async (root) => snapshot(root));
  }
  const tree = trees.overlayfs as Record<string, Node>;
  assert.deepEqual(Object.keys(tree).sort(), ['bin', 'bin/alias', 'bin/copy', 'bin/hard', 'etc', 'opt', 'opt/fresh', 'usr', 'usr/lib', 'usr/lib/libx.so']);
  assert.equal(tree['bin/alias']!.link, 'tool');
  assert.equal(tree.opt!.uid, 1000);
  assert.equal(tree['usr/lib/libx.so']!.size, 100_000);
  assert.deepEqual(trees.native, trees.overlayfs);

  // overlayfs: whiteouts became 0/0 character devices and the opaque marker an xattr, in the upperdirs
  const [, midUpper, topUpper] = upper.overlayfs!;
  assert.deepEqual(Object.keys(midUpper!).sort(), ['bin', 'bin/tool', 'usr', 'usr/lib', 'usr/lib/libx.so']);
  assert.deepEqual([midUpper!['bin/tool']!.type, midUpper!['bin/tool']!.rdev], ['char', [0, 0]]);
  assert.deepEqual([topUpper!['etc/hostname']!.type, topUpper!['etc/hostname']!.rdev], ['char', [0, 0]]);
  const { mounts: last } = await c.unary<{ mounts: Mount[] }>(SNAPSHOTS, 'Mounts', { snapshotter: 'overlayfs', key: 'view' });
  const lowers = last[0]!.options.find((o) => o.startsWith('lowerdir='))!.slice('lowerdir='.length).split(':');
  assert.equal(lgetxattr(join(lowers[0]!, 'opt'), 'trusted.overlay.opaque')?.toString(), 'y');
  assert.equal(lgetxattr(join(lowers[1]!, 'bin'), 'trusted.overlay.opaque'), null);
  // native: whiteouts applied by removal, each snapshot a full tree
  assert.equal(upper.native![1]!['bin/tool'], undefined);
  assert.equal(upper.native![2]!['etc/hostname'], undefined);
});

const BLOB = (root: string, digest: string) => join(root, 'io.containerd.content.v1.content', 'blobs', 'sha256', digest.slice('sha256:'.length));
const code = (expected: number, message: RegExp) => (err: ServiceError) => err.code === expected && message.test(err.details);

/** An active snapshot on top of a committed one (an overlay mount with an upperdir, or a native copy). */
async function prepareOnBase(c: Connection, snapshotter: string, key: string): Promise<Mount[]> {
  const base = await tarLayer([{ name: 'base', content: 'below' }]);
  await store(c, 'base', base);
  const { mounts } = await c.unary<{ mounts: Mount[] }>(SNAPSHOTS, 'Prepare', { snapshotter, key: `${key}-base`, parent: '', labels: ROOT });
  await apply(c, OCI_TAR, sha256(base), base.length, mounts);
  await c.unary(SNAPSHOTS, 'Commit', { snapshotter, name: `${key}-parent`, key: `${key}-base`, labels: ROOT });
  return (await c.unary<{ mounts: Mount[] }>(SNAPSHOTS, 'Prepare', { snapshotter, key, parent: `${key}-parent`, labels: ROOT })).mounts;
}

test('Apply of a blob whose stored bytes do not match its digest fails and leaves the prepared snapshot untouched', { skip }, async (t) => {
  const daemon = await startTestDaemon(t);
  const c = daemon.connect('diffcorrupt');
  const files: Entry[] = Array.from({ length: 20 }, (_, i) => ({ name: `f${i}`, content: `file ${i}\n`.repeat(100) }));
  const layer = gzip(await tarLayer(files));
  const digest = await store(c, 'layer', layer);
  const good = readFileSync(BLOB(daemon.root, digest));
  assert.deepEqual(good, layer);
  // the gzip header's MTIME is not covered by gzip's CRC: the layer still unpacks completely
  const sameTree = Buffer.from(good);
  sameTree[4] ^= 0xff;
  // a flipped byte inside the deflate data: decompression fails part-way
  const broken = Buffer.from(good);
  broken[Math.floor(good.length / 2)] ^= 0xff;

  for (const snapshotter of ['overlayfs', 'native']) {
    for (const [name, bytes, error] of [['same-tree', sameTree, code(status.FAILED_PRECONDITION, /its bytes hash to sha256:/)], ['broken', broken, (err: ServiceError) => err.code !== status.OK]] as const) {
      writeFileSync(BLOB(daemon.root, digest), bytes);
      const mounts = await prepareOnBase(c, snapshotter, `${snapshotter}-${name}`);
      const dir = targetDir(mounts);
      const before = snapshot(dir);
      await assert.rejects(apply(c, OCI_GZIP, digest, layer.length, mounts), error);
      assert.deepEqual(snapshot(dir), before, `${snapshotter}, ${name}: the target is as it was`);
    }
  }
  // nothing was committed on the way: the store holds the same two blobs, no upload is left
  const listed: unknown[] = [];
  for await (const { info } of c.stream<{ info: unknown[] }>(CONTENT, 'List', { filters: [] })) listed.push(...info);
  assert.equal(listed.length, 2);
  assert.deepEqual((await c.unary<{ statuses: unknown[] }>(CONTENT, 'ListStatuses', {})).statuses, []);

  writeFileSync(BLOB(daemon.root, digest), good);
  const mounts = await prepareOnBase(c, 'overlayfs', 'restored');
  await apply(c, OCI_GZIP, digest, layer.length, mounts);
  assert.equal(readdirSync(targetDir(mounts)).length, 20);
});

test('Apply refuses an unknown blob or media type, a wrong size, and escaping layers, leaving the target untouched', { skip }, async (t) => {
  const daemon = await startTestDaemon(t);
  const c = daemon.connect('diffbad');
  const layer = gzip(await tarLayer([{ name: 'a', content: 'x' }]));
  const digest = await store(c, 'good', layer);
  // empty targets, as an unpacker prepares them: an upperdir over a parent, a first native layer
  const targets = {
    overlayfs: await prepareOnBase(c, 'overlayfs', 'target-overlayfs'),
    native: (await c.unary<{ mounts: Mount[] }>(SNAPSHOTS, 'Prepare', { snapshotter: 'native', key: 'target-native', parent: '', labels: ROOT })).mounts,
  };
  for (const [snapshotter, mounts] of Object.entries(targets)) {
    const dir = targetDir(mounts);
    const before = snapshot(dir);
    await assert.rejects(apply(c, OCI_GZIP, sha256(Buffer.from('nothing')), 7, mounts), code(status.NOT_FOUND, /not found/));
    await assert.rejects(apply(c, 'application/x-unknown', digest, layer.length, mounts), code(status.UNIMPLEMENTED, /no processor for media-type/));
    await assert.rejects(apply(c, OCI_GZIP, digest, layer.length + 1, mounts), code(status.FAILED_PRECONDITION, /the descriptor says/));
    await assert.rejects(apply(c, OCI_GZIP, digest, layer.length, []), code(status.INVALID_ARGUMENT, /mounts must not be empty/));

    const outside = tempDir(t);
    const harmless: Entry[] = [{ name: 'etc/', type: 'directory' }, { name: 'etc/first', content: 'written before the bad entry' }];
    const malicious: [string, Entry[], RegExp][] = [
      ['symlink escape', [{ name: 'link', type: 'symlink', linkname: '../../../../../../../..' + outside }, { name: 'link/escaped', content: 'should not exist' }], /a symlink created by this same layer/],
      ['parent component', [{ name: '../evil', content: 'x' }], /"\.\." path components are not allowed/],
      ['absolute path', [{ name: `${outside}/abs`, content: 'x' }], /absolute paths are not allowed/],
      ['hardlink outside', [{ name: 'stolen', type: 'link', linkname: '../../../../../../etc/hostname' }], /"\.\." path components are not allowed/],
    ];
    for (const [what, entries, message] of malicious) {
      const tar = await tarLayer([...harmless, ...entries]);
      const refused = await store(c, `bad-${what}`, tar);
      await assert.rejects(apply(c, OCI_TAR, refused, tar.length, mounts), code(status.INVALID_ARGUMENT, message), what);
      assert.deepEqual(snapshot(dir), before, `${snapshotter}, ${what}: the target is as it was`);
      assert.deepEqual(snapshot(outside), {}, `${snapshotter}, ${what}: nothing outside`);
    }
  }
});

test('Diff writes the layer between two snapshots into content; applying it reproduces the tree', { skip }, async (t) => {
  const daemon = await startTestDaemon(t);
  const c = daemon.connect('diffout');
  const base = await tarLayer(BASE);
  const { view: lower } = await unpack(c, 'overlayfs', [{ mediaType: OCI_TAR, blob: base, tar: base }]);
  const { mounts: upper } = await c.unary<{ mounts: Mount[] }>(SNAPSHOTS, 'Prepare', { snapshotter: 'overlayfs', key: 'work', parent: 'layer-0', labels: ROOT });
  await withTempMount(upper, async (root) => {
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

  // the same diff twice (no deletions, whose whiteouts carry the time of the diff), the second
  // time of a blob that lost its label: the blob is kept and labelled again
  const { mounts: added } = await c.unary<{ mounts: Mount[] }>(SNAPSHOTS, 'Prepare', { snapshotter: 'overlayfs', key: 'added', parent: 'layer-0', labels: ROOT });
  await withTempMount(added, async (root) => writeFileSync(join(root, 'etc', 'only-added'), 'x'));
  const { diff: first } = await c.unary<{ diff: { digest: string } }>(DIFF, 'Diff', { left: lower, right: added, labels: ROOT });
  const labelOf = async (digest: string) => (await c.unary<{ info: { labels: Record<string, string> } }>(CONTENT, 'Info', { digest })).info.labels['containerd.io/uncompressed'];
  const uncompressed = await labelOf(first.digest);
  assert.match(uncompressed!, /^sha256:/);
  await c.unary(CONTENT, 'Update', { info: { digest: first.digest, labels: {} }, update_mask: { paths: ['labels.containerd.io/uncompressed'] } });
  assert.equal(await labelOf(first.digest), undefined);
  const { diff: again } = await c.unary<{ diff: { digest: string } }>(DIFF, 'Diff', { left: lower, right: added });
  assert.equal(again.digest, first.digest);
  assert.equal(await labelOf(first.digest), uncompressed);
  assert.deepEqual((await c.unary<{ statuses: unknown[] }>(CONTENT, 'ListStatuses', {})).statuses, [], 'no upload is left behind');
});

const REGISTRY_PORT = 5123;
const NS = 'diffctr';

test('the real ctr pulls busybox through the Diff service, and the harness images steps pass', { skip: skipWithoutReference || skipWithoutHarness, timeout: 300_000 }, async (t) => {
  const registry = startRegistry(t, REGISTRY_PORT);
  const daemon = await startTestDaemon(t);
  const ctr = ctrAt(daemon.address, NS);
  const ref = `${registry}/busybox:latest`;

  const pulled = ctr('images', 'pull', '--plain-http', ref);
  assert.match(pulled, /unpacking linux\/amd64 sha256:[0-9a-f]{64}\.\.\.\s*\ndone/);
  assert.match(ctr('images', 'check'), new RegExp(`^${ref.replace(/\./g, '\\.')}\\s+\\S+\\s+\\S+\\s+complete`, 'm'));
  // the unpacker labelled the layer with its diffID (Apply's answer) and the config with the chain
  const manifestDigest = ctr('images', 'ls').split('\n').find((line) => line.startsWith(`${ref} `))!.split(/\s+/)[2]!;
  const manifest = JSON.parse(ctr('content', 'get', manifestDigest)) as { config: { digest: string }; layers: { digest: string }[] };
  const config = JSON.parse(ctr('content', 'get', manifest.config.digest)) as { rootfs: { diff_ids: string[] } };
  const labels = ctr('content', 'ls');
  assert.match(labels, new RegExp(`^${manifest.layers[0]!.digest}\\s.*containerd\\.io/uncompressed=${config.rootfs.diff_ids[0]}`, 'm'));
  assert.match(labels, new RegExp(`^${manifest.config.digest}\\s.*containerd\\.io/gc\\.ref\\.snapshot\\.overlayfs=${config.rootfs.diff_ids[0]}`, 'm'));
  // and the unpacked tree is a working busybox
  const mountPoint = join(tempDir(t), 'rootfs');
  mkdirSync(mountPoint);
  ctr('images', 'mount', ref, mountPoint);
  try {
    assert.equal(execFileSync(join(mountPoint, 'bin', 'busybox'), ['echo', 'unpacked'], { encoding: 'utf8' }), 'unpacked\n');
    assert.equal(readlinkSync(join(mountPoint, 'bin', 'sh')), 'busybox');
  } finally {
    ctr('images', 'unmount', '--rm', mountPoint);
  }

  // `images.import.oci-archive` ends with `ctr run`: it is part of the run once tasks can run
  const canRun = /^io\.containerd\.grpc\.v1\s+tasks\s+-\s+ok\s*$/m.test(ctr('plugins', 'ls'));
  const steps = canRun ? '^images\\.' : '^images\\.(pull|ls|check|label|tag|rm|export|import\\.roundtrip)';
  if (!canRun) t.diagnostic('images.import.oci-archive left out: the tasks service cannot run containers here');
  const { out, code } = await runHarness(daemon.address, steps, { REGISTRY: registry });
  assert.match(out, canRun ? /^12 passed, 0 failed$/m : /^11 passed, 0 failed$/m, out);
  assert.equal(code, 0);
});
