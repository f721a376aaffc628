/** diffTrees (containerd's walking differ) and its round trip through applyLayer. */
import assert from 'node:assert/strict';
import {
  chmodSync,
  chownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { test, type TestContext } from 'node:test';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { execa } from 'execa';
import tar from 'tar-stream';
import { diffTrees } from '../../src/diff/index.js';
import { fromUtf8 } from '../../src/diff/byte-path.js';
import { lsetxattr, makedev, mknod } from '../../src/diff/syscalls.js';
import { tempDir } from '../helpers/tmp.js';
import { apply, OCI_GZIP, snapshot, tarLayer } from './layers.js';

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await pipeline(stream, new Writable({ write: (c, _e, cb) => (chunks.push(c), cb()) }));
  return Buffer.concat(chunks);
}

async function list(tarball: Buffer): Promise<Array<{ name: string; type: string; linkname?: string | null; pax?: unknown }>> {
  const extract = tar.extract();
  const out: Array<{ name: string; type: string; linkname?: string | null }> = [];
  const done = (async () => {
    for await (const e of extract as unknown as AsyncIterable<{ header: tar.Header; resume(): void }>) {
      out.push({ name: e.header.name, type: e.header.type!, linkname: e.header.linkname });
      e.resume();
    }
  })();
  extract.end(tarball);
  await done;
  return out;
}

const cp = (from: string, to: string) => execa('cp', ['-a', from, to]);

async function baseTree(t: TestContext): Promise<{ base: string; lower: string }> {
  const base = tempDir(t);
  const lower = `${base}/lower`;
  mkdirSync(lower);
  await apply(
    await tarLayer([
      { name: 'etc/hostname', content: 'old-host' },
      { name: 'etc/motd', content: 'welcome' },
      { name: 'etc/owned', content: 'o' },
      { name: 'etc/deleteme', content: 'd' },
      { name: 'var/olddir/a', content: 'a' },
      { name: 'var/olddir/sub/b', content: 'b' },
      { name: 'rep-file', content: 'will become a dir' },
      { name: 'rep-dir/child', content: 'will go' },
      { name: 'link', type: 'symlink', linkname: 'etc/motd' },
      { name: 'hl/a', content: 'shared' },
      { name: 'hl/b', type: 'link', linkname: 'hl/a' },
      { name: 'keep/unchanged', content: 'same' },
    ]),
    lower,
  );
  return { base, lower };
}

test('round trip: diffTrees(lower, upper) applied onto lower gives upper', async (t) => {
  const { base, lower } = await baseTree(t);
  const upper = `${base}/upper`;
  await cp(lower, upper);
  mkdirSync(`${upper}/new`);
  writeFileSync(`${upper}/new/file`, 'fresh');
  writeFileSync(`${upper}/etc/hostname`, 'new-host');
  chmodSync(`${upper}/etc/motd`, 0o600);
  chownSync(`${upper}/etc/owned`, 1000, 1001);
  unlinkSync(`${upper}/etc/deleteme`);
  rmSync(`${upper}/var/olddir`, { recursive: true });
  unlinkSync(`${upper}/rep-file`);
  mkdirSync(`${upper}/rep-file`);
  writeFileSync(`${upper}/rep-file/inner`, 'i');
  rmSync(`${upper}/rep-dir`, { recursive: true });
  writeFileSync(`${upper}/rep-dir`, 'now a file');
  unlinkSync(`${upper}/link`);
  symlinkSync('/etc/hostname', `${upper}/link`);
  linkSync(`${upper}/etc/hostname`, `${upper}/etc/hostname-hl`);
  linkSync(`${upper}/hl/a`, `${upper}/hl/c`);
  mkdirSync(`${upper}/dev`);
  mknod(fromUtf8(`${upper}/dev/null`), 0o20666, makedev(1, 3));
  await execa('mkfifo', [`${upper}/dev/fifo`]);
  await execa('mkfifo', [`${upper}/dev/fifo2`]);
  writeFileSync(`${upper}/ping`, 'elf');
  lsetxattr(fromUtf8(`${upper}/ping`), 'security.capability', Buffer.from('0100000200200000000000000000000000000000', 'hex'));
  utimesSync(`${upper}/keep`, 1, 1); // a directory's times alone are not a change

  const tarball = await collect(diffTrees(lower, upper));
  const entries = await list(tarball);
  const names = entries.map((e) => e.name);
  assert.ok(!names.some((n) => n.startsWith('keep')), `unchanged entries are not written: ${names}`);
  assert.ok(names.includes('var/.wh.olddir') && !names.some((n) => n.startsWith('var/olddir')), 'one whiteout for a deleted dir');
  assert.ok(names.includes('etc/.wh.deleteme'));
  const hlc = entries.find((e) => e.name === 'hl/c');
  assert.equal(hlc?.type, 'file', 'the first changed path of an inode carries its content');
  assert.deepEqual(
    entries.filter((e) => e.name === 'hl/a' || e.name === 'hl/b').map((e) => [e.type, e.linkname]),
    [['link', 'hl/c'], ['link', 'hl/c']],
    'unchanged paths of that inode follow as links',
  );

  const target = `${base}/target`;
  await cp(lower, target);
  await apply(tarball, target);
  assert.deepEqual(snapshot(target, { times: true }), snapshot(upper, { times: true }));
  assert.equal(lstatSync(`${target}/hl/a`).nlink, 3);
  assert.equal(lstatSync(`${target}/etc/hostname-hl`).ino, lstatSync(`${target}/etc/hostname`).ino);
});

test("entries come in containerd's order: parents first, whiteouts in walk position", async (t) => {
  const base = tempDir(t);
  for (const d of ['l/a', 'l/b', 'u/a']) mkdirSync(`${base}/${d}`, { recursive: true });
  writeFileSync(`${base}/l/a/x`, '1');
  writeFileSync(`${base}/l/b/y`, '2');
  writeFileSync(`${base}/l/a.b`, '3');
  await cp(`${base}/l/a/x`, `${base}/u/a/x`);
  await cp(`${base}/l/a.b`, `${base}/u/a.b`);
  writeFileSync(`${base}/u/a/x`, 'changed');
  writeFileSync(`${base}/u/a/z`, 'added');
  mkdirSync(`${base}/u/c`);
  writeFileSync(`${base}/u/c/d`, '4');
  chmodSync(`${base}/u/a`, lstatSync(`${base}/l/a`).mode & 0o7777);
  const names = (await list(await collect(diffTrees(`${base}/l`, `${base}/u`)))).map((e) => e.name);
  assert.deepEqual(names, ['a/', 'a/x', 'a/z', '.wh.b', 'c/', 'c/d']);
});

test('an empty lower gives the whole upper tree; no changes give an empty archive', async (t) => {
  const { base, lower } = await baseTree(t);
  mkdirSync(`${base}/empty`);
  const all = await list(await collect(diffTrees(`${base}/empty`, lower)));
  assert.equal(all.filter((e) => e.type === 'file').length, 10);
  assert.deepEqual(all.find((e) => e.name === 'hl/b'), { name: 'hl/b', type: 'link', linkname: 'hl/a' });
  const none = await collect(diffTrees(lower, lower));
  assert.deepEqual(none, Buffer.alloc(1024), 'just the end-of-archive marker');
});

async function tryMount(t: TestContext, lower: string, upper: string, work: string, merged: string): Promise<boolean> {
  try {
    await execa('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work}`, merged]);
  } catch (err) {
    t.skip(`overlay mount unavailable: ${(err as Error).message.split('\n')[0]}`);
    return false;
  }
  return true;
}

test('overlay upperdir diff: whiteouts and opaque dirs, round trip in both whiteout modes', async (t) => {
  const { base, lower } = await baseTree(t);
  for (const d of ['upper', 'work', 'merged', 'upper2', 'work2', 'merged2']) mkdirSync(`${base}/${d}`);
  if (!(await tryMount(t, lower, `${base}/upper`, `${base}/work`, `${base}/merged`))) return;
  const m = `${base}/merged`;
  try {
    unlinkSync(`${m}/etc/deleteme`);
    rmSync(`${m}/var/olddir`, { recursive: true });
    mkdirSync(`${m}/var/olddir`); // recreated: overlayfs marks it opaque
    writeFileSync(`${m}/var/olddir/only`, 'only me');
    writeFileSync(`${m}/etc/hostname`, 'overlay-host');
    writeFileSync(`${m}/added`, 'a');
    await cp(m, `${base}/expected`);
  } finally {
    await execa('umount', [m]);
  }

  const tarball = await collect(diffTrees(lower, `${base}/upper`, { upperdir: true }));
  const names = (await list(tarball)).map((e) => e.name);
  assert.ok(names.includes('etc/.wh.deleteme'), names.join());
  const opq = names.indexOf('var/olddir/.wh..wh..opq');
  assert.ok(opq > names.indexOf('var/olddir/') && opq < names.indexOf('var/olddir/only'), names.join());

  // Native snapshotter: apply onto a copy of the lower tree.
  await cp(lower, `${base}/native`);
  await apply(tarball, `${base}/native`);
  assert.deepEqual(snapshot(`${base}/native`), snapshot(`${base}/expected`));

  // Overlay snapshotter: apply into an empty upperdir (gzip, as Diff stores it), mount, compare.
  const gz = await collect(diffTrees(lower, `${base}/upper`, { upperdir: true }).pipe(createGzip()));
  await apply(gz, `${base}/upper2`, { whiteouts: 'overlay', mediaType: OCI_GZIP, parents: [lower] });
  await execa('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${base}/upper2,workdir=${base}/work2`, `${base}/merged2`]);
  try {
    assert.deepEqual(snapshot(`${base}/merged2`), snapshot(`${base}/expected`));
  } finally {
    await execa('umount', [`${base}/merged2`]);
  }
});
