// ledgerd's own pull (src/client/pull/index.ts, `ledgerctl pull`) against a real docker-registry and a
// real daemon: by tag and digest, platforms of an index, bearer tokens, connections dropped
// mid-blob, blobs whose bytes are not their digest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pull } from '../../src/client/pull/index.js';
import { chainId } from '../../src/client/image/manifest.js';
import { collect, SERVICES } from '../../src/client/rpc.js';
import type { PullEvent } from '../../src/client/pull/events.js';
import { withTempMount, type Mount } from '../../src/util/mount/index.js';
import type { Connection } from '../../src/cli/grpc-client.js';
import { LEDGERCTL, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { buildImage, buildIndex, busyboxEntries, sha256, skipWithoutRegistry, startTestRegistry, type BuiltImage } from '../helpers/registry.js';
import { startRegistryProxy } from '../helpers/registry-proxy.js';

const run = promisify(execFile);
const skip = skipWithoutRegistry || (process.getuid?.() !== 0 && 'needs root (overlay mounts)');

/** `ledgerctl -a … -n NS ARGS…`, asynchronously: the proxy serving it lives in this process. */
async function ledgerctl(daemon: TestDaemon, namespace: string, ...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [LEDGERCTL, '-a', daemon.address, '-n', namespace, ...args], { maxBuffer: 1 << 24 });
    return { stdout, stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout: string; stderr: string; code: number };
    return { stdout: e.stdout, stderr: e.stderr, code: e.code };
  }
}

interface ContentInfo {
  digest: string;
  size: number;
  labels: Record<string, string>;
}

const contentList = async (c: Connection): Promise<ContentInfo[]> =>
  (await collect<{ info: ContentInfo[] }>(c.stream(SERVICES.content, 'List', {}))).flatMap((m) => m.info);
const contentInfo = async (c: Connection, digest: string): Promise<ContentInfo> =>
  (await c.unary<{ info: ContentInfo }>(SERVICES.content, 'Info', { digest })).info;
const snapshotNames = async (c: Connection): Promise<string[]> =>
  (await collect<{ info: { name: string }[] }>(c.stream(SERVICES.snapshots, 'List', { snapshotter: 'overlayfs' }))).flatMap((m) => m.info.map((i) => i.name));
const statuses = async (c: Connection) => (await c.unary<{ statuses: { ref: string; offset: number }[] }>(SERVICES.content, 'ListStatuses', {})).statuses;

/** Reads files of a committed snapshot through a temporary view (a GC root while it lives). */
async function readTree<T>(c: Connection, chain: string, fn: (root: string) => Promise<T>): Promise<T> {
  const key = `test-view-${Math.random().toString(36).slice(2)}`;
  const { mounts } = await c.unary<{ mounts: Mount[] }>(SERVICES.snapshots, 'View', { snapshotter: 'overlayfs', key, parent: chain, labels: { 'containerd.io/gc.root': 'test' } });
  try {
    return await withTempMount(mounts, fn);
  } finally {
    await c.unary(SERVICES.snapshots, 'Remove', { snapshotter: 'overlayfs', key });
  }
}

/** busybox + a 3 MiB layer of incompressible bytes (big enough to cut mid-way). */
async function twoLayerImage(marker = 'hello from layer 2\n'): Promise<BuiltImage> {
  const noise = Buffer.alloc(3 << 20);
  for (let i = 0; i < noise.length; i += 4) noise.writeUInt32LE((Math.imul(i, 2654435761) ^ (i >>> 7)) >>> 0, i);
  return buildImage([busyboxEntries(), [{ name: 'data/', type: 'directory' }, { name: 'data/noise.bin', content: noise }, { name: 'data/hello.txt', content: marker }]]);
}

test('pull by tag: content with containerd\'s labels, snapshots on the chain, the image record, no lease left', { skip, timeout: 60_000 }, async (t) => {
  const [daemon, registry, image] = await Promise.all([startTestDaemon(t), startTestRegistry(t), twoLayerImage()]);
  await registry.pushImage('app/two', 'v1', image);
  const ref = `${registry.host}/app/two:v1`;

  const out = await ledgerctl(daemon, 'p1', 'pull', ref);
  assert.equal(out.code, 0, out.stderr);
  // plain progress lines when stdout is not a terminal
  assert.match(out.stdout, new RegExp(`${ref}: resolved ${image.manifest.desc.digest}`));
  assert.match(out.stdout, new RegExp(`layer-${image.layers[1]!.desc.digest}: done 3\\.0 MiB in \\d+\\.\\ds`));
  assert.match(out.stdout, /unpacking linux\/amd64 sha256:/);
  assert.match(out.stdout, /^done: \d+\.\ds$/m);

  const c = daemon.connect('p1');
  const { image: record } = await c.unary<{ image: { name: string; target: { digest: string; media_type: string; size: number } } }>(SERVICES.images, 'Get', { name: ref });
  assert.equal(record.target.digest, image.manifest.desc.digest);
  assert.equal(record.target.media_type, image.manifest.desc.mediaType);

  const source = `containerd.io/distribution.source.127.0.0.1`;
  const manifest = await contentInfo(c, image.manifest.desc.digest);
  assert.deepEqual(manifest.labels, {
    'containerd.io/gc.ref.content.config': image.config.desc.digest,
    'containerd.io/gc.ref.content.l.0': image.layers[0]!.desc.digest,
    'containerd.io/gc.ref.content.l.1': image.layers[1]!.desc.digest,
    [source]: 'app/two',
  });
  const top = chainId(image.diffIds);
  assert.deepEqual((await contentInfo(c, image.config.desc.digest)).labels, { [source]: 'app/two', 'containerd.io/gc.ref.snapshot.overlayfs': top });
  for (const [i, layer] of image.layers.entries()) {
    assert.deepEqual((await contentInfo(c, layer.desc.digest)).labels, { [source]: 'app/two', 'containerd.io/uncompressed': image.diffIds[i] });
  }
  assert.deepEqual((await snapshotNames(c)).sort(), [image.diffIds[0]!, top].sort());
  const { info } = await c.unary<{ info: { parent: string; labels: Record<string, string> } }>(SERVICES.snapshots, 'Stat', { snapshotter: 'overlayfs', key: top });
  assert.equal(info.parent, image.diffIds[0]);
  assert.equal(info.labels['containerd.io/snapshot.ref'], top);
  assert.deepEqual((await c.unary<{ leases: unknown[] }>(SERVICES.leases, 'List', {})).leases, []);
  assert.deepEqual(await statuses(c), []);

  await readTree(c, top, async (root) => {
    assert.equal(await readFile(join(root, 'data/hello.txt'), 'utf8'), 'hello from layer 2\n');
    assert.equal(await readlink(join(root, 'bin/sh')), 'busybox');
    assert.equal(sha256(await readFile(join(root, 'bin/busybox'))), sha256(await readFile(process.env.BUSYBOX ?? '/usr/bin/busybox')));
  });

  // pulling again finds everything there: nothing downloaded, nothing unpacked
  const events: PullEvent[] = [];
  await pull(c, ref, { onEvent: (e) => events.push(e) });
  assert.ok(events.filter((e) => e.type === 'blob' && e.status !== 'waiting').every((e) => e.type === 'blob' && e.status === 'exists'));
  assert.ok(events.filter((e) => e.type === 'layer').every((e) => e.type === 'layer' && e.status === 'exists'));
});

test('pull by digest; a missing tag or repository is reported with the reference', { skip, timeout: 60_000 }, async (t) => {
  const [daemon, registry, image] = await Promise.all([startTestDaemon(t), startTestRegistry(t), buildImage([busyboxEntries()])]);
  await registry.pushImage('app/one', 'v1', image);
  const c = daemon.connect('p2');
  const ref = `${registry.host}/app/one@${image.manifest.desc.digest}`;
  const result = await pull(c, ref);
  assert.equal(result.name, ref);
  assert.equal(result.target.digest, image.manifest.desc.digest);
  assert.deepEqual(await snapshotNames(c), [image.diffIds[0]]);

  await assert.rejects(pull(c, `${registry.host}/app/one:nope`), new RegExp(`${registry.host}/app/one:nope: not found`));
  const missing = await ledgerctl(daemon, 'p2', 'pull', `${registry.host}/no/such:v1`);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /ledgerctl: .*no\/such:v1: not found/);
});

test('a multi-platform index: the host default, --platform, --all-platforms', { skip, timeout: 60_000 }, async (t) => {
  const [daemon, registry] = await Promise.all([startTestDaemon(t), startTestRegistry(t)]);
  const amd = await buildImage([busyboxEntries()]);
  const arm = await buildImage([[{ name: 'arch', content: 'arm64\n' }]], { architecture: 'arm64' });
  const index = buildIndex([{ image: amd, architecture: 'amd64' }, { image: arm, architecture: 'arm64' }]);
  for (const image of [amd, arm]) for (const b of [...image.layers, image.config, image.manifest]) await registry.pushBlob('multi', b);
  await registry.pushManifest('multi', 'latest', index);
  const ref = `${registry.host}/multi:latest`;

  const digests = async (c: Connection) => (await contentList(c)).map((i) => i.digest).sort();
  const c1 = daemon.connect('host');
  await pull(c1, ref);
  assert.deepEqual(await digests(c1), [index, amd.manifest, amd.config, ...amd.layers].map((b) => b.desc.digest).sort());
  assert.deepEqual(await snapshotNames(c1), [amd.diffIds[0]]);
  assert.deepEqual((await contentInfo(c1, index.desc.digest)).labels, {
    'containerd.io/gc.ref.content.m.0': amd.manifest.desc.digest,
    'containerd.io/gc.ref.content.m.1': arm.manifest.desc.digest,
    'containerd.io/distribution.source.127.0.0.1': 'multi',
  });

  const out = await ledgerctl(daemon, 'arm', 'pull', '--platform', 'linux/arm64', ref);
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, /unpacking linux\/arm64 /);
  const c2 = daemon.connect('arm');
  assert.deepEqual(await digests(c2), [index, arm.manifest, arm.config, ...arm.layers].map((b) => b.desc.digest).sort());
  assert.deepEqual(await snapshotNames(c2), [arm.diffIds[0]]);
  await readTree(c2, arm.diffIds[0]!, async (root) => assert.equal(await readFile(join(root, 'arch'), 'utf8'), 'arm64\n'));

  const all = await ledgerctl(daemon, 'all', 'pull', '--all-platforms', ref);
  assert.equal(all.code, 0, all.stderr);
  assert.deepEqual((await snapshotNames(daemon.connect('all'))).sort(), [amd.diffIds[0], arm.diffIds[0]].sort());

  const none = await ledgerctl(daemon, 'none', 'pull', '--platform', 'linux/s390x', ref);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no match for platform in manifest/);
  const bad = await ledgerctl(daemon, 'none', 'pull', '--platform', 'linux/*', ref);
  assert.match(bad.stderr, /--platform: .*wildcards/);
});

test('bearer tokens from the challenge\'s realm: anonymous, with credentials, and refused', { skip, timeout: 60_000 }, async (t) => {
  const [daemon, registry, image] = await Promise.all([startTestDaemon(t), startTestRegistry(t), buildImage([busyboxEntries()])]);
  await registry.pushImage('secure/app', 'v1', image);
  const open = await startRegistryProxy(t, registry.host, { auth: {} });
  const c = daemon.connect('auth');
  await pull(c, `${open.host}/secure/app:v1`);
  assert.ok(open.tokenRequests.length >= 1);
  const asked = new URL(open.tokenRequests[0]!.url, 'http://x');
  assert.equal(asked.searchParams.get('service'), 'test-registry');
  assert.deepEqual(asked.searchParams.getAll('scope'), ['repository:secure/app:pull']);
  // every registry request after the first challenge carried the token
  assert.ok(open.requests.slice(1).every((r) => r.authorization?.startsWith('Bearer ')), JSON.stringify(open.requests));

  const guarded = await startRegistryProxy(t, registry.host, { auth: { credentials: { username: 'alice', password: 's3cret' } } });
  const refused = await ledgerctl(daemon, 'auth2', 'pull', `${guarded.host}/secure/app:v1`);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /pull access denied, repository does not exist or may require authorization/);
  const wrong = await ledgerctl(daemon, 'auth2', 'pull', '--user', 'alice:nope', `${guarded.host}/secure/app:v1`);
  assert.match(wrong.stderr, /pull access denied/);
  const allowed = await ledgerctl(daemon, 'auth2', 'pull', '--user', 'alice:s3cret', `${guarded.host}/secure/app:v1`);
  assert.equal(allowed.code, 0, allowed.stderr);
  const posted = guarded.tokenRequests.find((r) => r.method === 'POST' && r.body.includes('username=alice'));
  assert.ok(posted, 'credentials go to the token endpoint as a password grant');
  assert.match(posted.body, /grant_type=password/);
  assert.match(posted.body, /client_id=containerd-client/);
});

test('a connection dropped mid-blob: resumed with Range; when it keeps dropping, the pull fails and a later pull resumes the ingest', { skip, timeout: 60_000 }, async (t) => {
  // one image per case: the content store shares blobs across namespaces, so a blob pulled once
  // is never downloaded again
  const [daemon, registry, first, second, third] = await Promise.all([startTestDaemon(t), startTestRegistry(t), twoLayerImage('a\n'), twoLayerImage('b\n'), twoLayerImage('c\n')]);
  await registry.pushImage('flaky/app', 'a', first);
  await registry.pushImage('flaky/app', 'b', second);
  await registry.pushImage('flaky/app', 'c', third);
  const bigOf = (image: BuiltImage) => image.layers[1]!.desc;

  // once: the download picks up where it stopped
  const big = bigOf(first);
  const once = await startRegistryProxy(t, registry.host, { blob: (digest, attempt) => (digest === big.digest && attempt === 1 ? { dropAfter: 1_000_000 } : 'pass') });
  const out = await ledgerctl(daemon, 'flaky1', 'pull', `${once.host}/flaky/app:a`);
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, new RegExp(`layer-${big.digest}: connection lost at .*resuming`));
  const ranges = once.requests.filter((r) => r.path.endsWith(big.digest)).map((r) => r.range);
  assert.equal(ranges.length, 2);
  assert.equal(ranges[0], undefined);
  assert.match(ranges[1]!, /^bytes=[1-9]\d*-$/);
  assert.equal((await contentInfo(daemon.connect('flaky1'), big.digest)).size, big.size);

  // a server that ignores Range: the client skips what it already has
  const ignoring = await startRegistryProxy(t, registry.host, {
    blob: (digest, attempt) => (digest !== bigOf(second).digest ? 'pass' : attempt === 1 ? { dropAfter: 700_000 } : 'ignore-range'),
  });
  const c3 = daemon.connect('flaky3');
  const events: PullEvent[] = [];
  await pull(c3, `${ignoring.host}/flaky/app:b`, { onEvent: (e) => events.push(e) });
  assert.ok(events.some((e) => e.type === 'retry' && e.offset > 0));
  assert.equal(ignoring.requests.filter((r) => r.path.endsWith(bigOf(second).digest)).length, 2);
  assert.equal((await contentInfo(c3, bigOf(second).digest)).size, bigOf(second).size);

  // a registry that keeps cutting (no progress after the first 900 kB): the pull fails clearly,
  // nothing of that blob is committed, its ingest stays for later
  const cut = bigOf(third);
  const always = await startRegistryProxy(t, registry.host, { blob: (digest, attempt) => (digest !== cut.digest ? 'pass' : { dropAfter: attempt === 1 ? 900_000 : 0 }) });
  const c = daemon.connect('flaky2');
  await assert.rejects(pull(c, `${always.host}/flaky/app:c`), new RegExp(`/v2/flaky/app/blobs/${cut.digest}: gave up at byte 900000 of ${cut.size} after 5 reconnections without progress`));
  assert.ok(!(await contentList(c)).some((i) => i.digest === cut.digest));
  assert.ok(!(await snapshotNames(c)).includes(chainId(third.diffIds)));
  const partial = (await statuses(c)).find((s) => s.ref === `layer-${cut.digest}`);
  assert.ok(partial && partial.offset > 0 && partial.offset < cut.size, JSON.stringify(await statuses(c)));
  assert.deepEqual(await c.unary<{ images: unknown[] }>(SERVICES.images, 'List', {}).then((r) => r.images), []);
  // its lease is kept (so the collector leaves the partial ingest), the others' are gone
  assert.equal((await c.unary<{ leases: unknown[] }>(SERVICES.leases, 'List', {})).leases.length, 1);

  const healthy = await startRegistryProxy(t, registry.host);
  await pull(c, `${healthy.host}/flaky/app:c`);
  assert.equal(healthy.requests.find((r) => r.path.endsWith(cut.digest))?.range, `bytes=${partial!.offset}-`);
  assert.equal((await contentInfo(c, cut.digest)).size, cut.size);
  await readTree(c, chainId(third.diffIds), async (root) => assert.equal(await readFile(join(root, 'data/hello.txt'), 'utf8'), 'c\n'));
});

test('a blob whose bytes do not match its digest is refused: nothing committed, no ingest, no snapshot, no image', { skip, timeout: 60_000 }, async (t) => {
  const [daemon, registry, image] = await Promise.all([startTestDaemon(t), startTestRegistry(t), twoLayerImage()]);
  await registry.pushImage('bad/app', 'v1', image);
  const big = image.layers[1]!.desc;
  const proxy = await startRegistryProxy(t, registry.host, { blob: (digest) => (digest === big.digest ? 'corrupt' : 'pass') });
  const out = await ledgerctl(daemon, 'bad', 'pull', `${proxy.host}/bad/app:v1`);
  assert.equal(out.code, 1);
  assert.match(out.stderr, new RegExp(`content digest sha256:[a-f0-9]{64} does not match the expected ${big.digest}; refusing it`));
  const c = daemon.connect('bad');
  assert.ok(!(await contentList(c)).some((i) => i.digest === big.digest));
  assert.deepEqual(await statuses(c), []);
  assert.ok(!(await snapshotNames(c)).includes(chainId(image.diffIds)));
  assert.deepEqual((await snapshotNames(c)).filter((n) => n.startsWith('extract-')), []);
  assert.deepEqual(await c.unary<{ images: unknown[] }>(SERVICES.images, 'List', {}).then((r) => r.images), []);
});

test('registry errors name the status, the registry\'s code and message, and the URL', { skip, timeout: 60_000 }, async (t) => {
  const [daemon, registry, image] = await Promise.all([startTestDaemon(t), startTestRegistry(t), buildImage([busyboxEntries()])]);
  await registry.pushImage('err/app', 'v1', image);
  const layer = image.layers[0]!.desc.digest;
  const proxy = await startRegistryProxy(t, registry.host, {
    fail: (method, path) => (path.endsWith(layer) ? { status: 403, body: { errors: [{ code: 'DENIED', message: 'requested access to the resource is denied' }] } } : undefined),
  });
  const out = await ledgerctl(daemon, 'err', 'pull', `${proxy.host}/err/app:v1`);
  assert.equal(out.code, 1);
  assert.match(out.stderr, new RegExp(`unexpected status from GET http://${proxy.host}/v2/err/app/blobs/${layer}: 403 Forbidden - server message: DENIED: requested access to the resource is denied`));
});
