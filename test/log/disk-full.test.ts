// Fault tests: a daemon whose root is on a small loop-mounted filesystem that fills up. Content
// ingest, layer unpack and the log's own appends fail with a clear error, nothing acknowledged is
// lost, and once space is freed the daemon goes on without a restart or any manual step.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status, type ServiceError } from '@grpc/grpc-js';
import { startTestDaemon } from '../helpers/daemon.js';
import { upload } from '../helpers/write-session.js';
import { OCI_GZIP, gzip, sha256, tarLayer } from '../diff/layers.js';
import type { Connection } from '../../src/cli/grpc-client.js';

const NS = 'containerd.services.namespaces.v1.Namespaces';
const SNAPSHOTS = 'containerd.services.snapshots.v1.Snapshots';
const DIFF = 'containerd.services.diff.v1.Diff';
const LOG = 'ledgerd.services.log.v1.Log';
const ROOT = { 'containerd.io/gc.root': 'test' };

function hasTools(): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v mkfs.ext4 && command -v mount && command -v umount'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const skip = process.getuid?.() !== 0 ? 'loop mounts need root' : !hasTools() ? 'mkfs.ext4 is not installed' : false;

/** A fresh ext4 of `mib` MiB mounted on a temp dir, unmounted and removed when the test ends (after the daemon). */
function smallFilesystem(t: TestContext, mib: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'ledgerd-log-fault-'));
  const image = join(dir, 'fs.img');
  const mountpoint = join(dir, 'mnt');
  mkdirSync(mountpoint);
  execFileSync('truncate', ['-s', `${mib}M`, image]);
  execFileSync('mkfs.ext4', ['-q', '-F', '-m', '0', image]);
  execFileSync('mount', ['-o', 'loop', image, mountpoint]);
  // lazily: the daemon (stopped by its own hook, after this one) may still hold files there
  t.after(() => {
    execFileSync('umount', ['-l', mountpoint]);
    rmSync(dir, { recursive: true, force: true });
  });
  return mountpoint;
}

/** Fills the filesystem of `dir` to the last block with one file; returns its path. */
function fill(dir: string): string {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  }
  for (let size = 32 * 1024; size >= 512; size /= 2) {
    try {
      for (;;) writeSync(fd, chunk, 0, size);
    } catch {
      // the next smaller size
    }
  }
  closeSync(fd);
  return path;
}

const failsWith = (codes: status[], pattern: RegExp) => (err: unknown) => {
  const e = err as ServiceError;
  assert.ok(codes.includes(e.code), `code ${status[e.code]}: ${e.details}`);
  assert.match(e.details, pattern);
  return true;
};

async function createNamespaces(c: Connection, prefix: string, count: number): Promise<{ created: string[]; error?: ServiceError }> {
  const created: string[] = [];
  const labels = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, 'v'.repeat(4000)]));
  for (let i = 0; i < count; i++) {
    const name = `${prefix}-${i}`;
    try {
      await c.unary(NS, 'Create', { namespace: { name, labels } });
      created.push(name);
    } catch (err) {
      return { created, error: err as ServiceError };
    }
  }
  return { created };
}

test('a full disk fails ingest, unpack and the log clearly; freeing space is all it takes to go on', { skip }, async (t) => {
  const fs = smallFilesystem(t, 48);
  let daemon = await startTestDaemon(t, { dir: join(fs, 'ledgerd') });
  let c = daemon.connect();

  const layer = gzip(await tarLayer([{ name: 'data/', type: 'directory', mode: 0o755 }, { name: 'data/big', content: Buffer.alloc(2 << 20, 5) }]));
  await upload(c, 'layer', layer, { labels: ROOT });
  const { mounts } = await c.unary<{ mounts: unknown[] }>(SNAPSHOTS, 'Prepare', { snapshotter: 'native', key: 'extract', parent: '', labels: ROOT });
  const before = await createNamespaces(c, 'before', 3);
  assert.equal(before.error, undefined);

  const filler = fill(fs);

  // content ingest
  const blob = Buffer.alloc(1 << 20, 9);
  await assert.rejects(upload(c, 'blob', blob, { labels: ROOT }), failsWith([status.RESOURCE_EXHAUSTED], /ENOSPC|no space left/i));
  // unpack: the layer does not fit the snapshot
  await assert.rejects(
    c.unary(DIFF, 'Apply', { diff: { media_type: OCI_GZIP, digest: sha256(layer), size: layer.length }, mounts }),
    failsWith([status.RESOURCE_EXHAUSTED], /ENOSPC|no space left/i),
  );
  // the log: appends fail once LMDB needs a page the disk cannot give
  const during = await createNamespaces(c, 'during', 400);
  assert.ok(during.error, `${during.created.length} namespaces of 64 KiB labels fit a full disk`);
  assert.ok(
    during.error.code === status.RESOURCE_EXHAUSTED && /no space left on device/.test(during.error.details),
    `the log's failure says the disk is full: ${status[during.error.code]} ${during.error.details}`,
  );

  rmSync(filler);

  // everything goes on, without a restart
  const after = await createNamespaces(c, 'after', 3);
  assert.equal(after.error, undefined, after.error?.details);
  await upload(c, 'blob', blob, { labels: ROOT });
  await c.unary(DIFF, 'Apply', { diff: { media_type: OCI_GZIP, digest: sha256(layer), size: layer.length }, mounts });
  const verify = await c.unary<{ ok: boolean; problems: string[] }>(LOG, 'Verify', {});
  assert.equal(verify.ok, true, verify.problems.join('\n'));

  // and what was acknowledged is there after a restart
  await daemon.stop();
  daemon = await daemon.restart();
  c = daemon.connect();
  const { namespaces } = await c.unary<{ namespaces: { name: string }[] }>(NS, 'List', {});
  const names = new Set(namespaces.map((n) => n.name));
  for (const name of [...before.created, ...during.created, ...after.created]) assert.ok(names.has(name), `${name} survived`);
  await daemon.stop();
});
