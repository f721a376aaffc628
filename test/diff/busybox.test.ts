/**
 * A real root filesystem: Debian's busybox-static as a layer (/bin/busybox plus one symlink per
 * applet), applied with both snapshotter flavours and run with chroot.
 */
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync } from 'node:fs';
import { test, type TestContext } from 'node:test';
import { execa } from 'execa';
import { tempDir } from '../helpers/tmp.js';
import { apply, type Entry, gzip, OCI_GZIP, OCI_ZSTD, sha256, tarLayer, zstd } from './layers.js';

const BUSYBOX = '/bin/busybox';

async function busyboxLayer(t: TestContext): Promise<{ layer: Buffer; applets: string[] } | undefined> {
  if (!existsSync(BUSYBOX)) {
    t.skip('busybox-static is not installed (scripts/install.sh --test installs it)');
    return undefined;
  }
  const applets = (await execa(BUSYBOX, ['--list-full'])).stdout
    .split('\n')
    .filter((a) => a !== '' && a !== 'bin/busybox' && a !== 'linuxrc');
  const dirs = [...new Set(applets.map((a) => a.slice(0, a.lastIndexOf('/'))))].sort();
  const entries: Entry[] = [
    ...dirs.map((d): Entry => ({ name: `${d}/`, type: 'directory', mode: 0o755 })),
    { name: 'bin/busybox', content: readFileSync(BUSYBOX), mode: 0o755 },
    ...applets.map((a): Entry => ({ name: a, type: 'symlink', linkname: '/bin/busybox' })),
    { name: 'etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\n' },
    { name: 'tmp/', type: 'directory', mode: 0o1777 },
  ];
  return { layer: await tarLayer(entries), applets };
}

const chroot = (root: string, script: string) => execa('chroot', [root, '/bin/sh', '-c', script]);

test('busybox layer (gzip): binary, applet symlinks, modes; it runs under chroot', async (t) => {
  const bb = await busyboxLayer(t);
  if (!bb) return;
  const root = tempDir(t);
  const blob = gzip(bb.layer);
  const r = await apply(blob, root, { mediaType: OCI_GZIP });
  assert.equal(r.digest, sha256(bb.layer));
  assert.equal(r.compressed.digest, sha256(blob));
  assert.equal(sha256(readFileSync(`${root}/bin/busybox`)), sha256(readFileSync(BUSYBOX)));
  assert.equal(lstatSync(`${root}/bin/busybox`).mode & 0o7777, 0o755);
  for (const a of bb.applets) assert.equal(readlinkSync(`${root}/${a}`), '/bin/busybox', a);
  assert.equal(lstatSync(`${root}/tmp`).mode & 0o7777, 0o1777);

  const { stdout } = await chroot(root, 'echo hello from $(whoami); ls /bin | wc -l; cat /etc/passwd | cut -d: -f1');
  assert.deepEqual(stdout.split('\n'), ['hello from root', String(bb.applets.filter((a) => a.startsWith('bin/')).length + 1), 'root']);
});

test('busybox + a second layer: native (apply) and overlay whiteouts agree', async (t) => {
  const bb = await busyboxLayer(t);
  if (!bb) return;
  const top = await tarLayer([
    { name: 'bin/.wh.vi' },
    { name: 'usr/', type: 'directory' },
    { name: 'usr/.wh..wh..opq' },
    { name: 'usr/bin/hello', content: '#!/bin/sh\necho hi from layer 2\n', mode: 0o755 },
  ]);
  // (busybox's sh finds applets without their symlinks, so test the files themselves)
  const script = '[ -e /bin/vi ] && echo vi || echo no-vi; [ -e /bin/ls ] && echo ls; ls /usr; ls /usr/bin; /usr/bin/hello';

  const native = tempDir(t);
  await apply(await zstd(bb.layer), native, { mediaType: OCI_ZSTD });
  await apply(top, native);
  const nativeOut = (await chroot(native, script)).stdout;
  assert.equal(nativeOut, 'no-vi\nls\nbin\nhello\nhi from layer 2');

  const base = tempDir(t);
  for (const d of ['l1', 'l2', 'upper', 'work', 'merged']) mkdirSync(`${base}/${d}`);
  await apply(bb.layer, `${base}/l1`, { whiteouts: 'overlay' });
  await apply(top, `${base}/l2`, { whiteouts: 'overlay', parents: [`${base}/l1`] });
  const options = `lowerdir=${base}/l2:${base}/l1,upperdir=${base}/upper,workdir=${base}/work`;
  try {
    await execa('mount', ['-t', 'overlay', 'overlay', '-o', options, `${base}/merged`]);
  } catch (err) {
    t.skip(`overlay mount unavailable: ${(err as Error).message.split('\n')[0]}`);
    return;
  }
  try {
    assert.equal((await chroot(`${base}/merged`, script)).stdout, nativeOut);
  } finally {
    await execa('umount', [`${base}/merged`]);
  }
});
