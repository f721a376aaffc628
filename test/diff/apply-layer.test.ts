import assert from 'node:assert/strict';
import { chmodSync, chownSync, lstatSync, mkdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { fromUtf8 } from '../../src/diff/byte-path.js';
import { lgetxattr, lsetxattr, major, makedev, minor } from '../../src/diff/syscalls.js';
import { tempDir } from '../helpers/tmp.js';
import { applyLayer } from '../../src/diff/index.js';
import { apply, OCI_GZIP, OCI_TAR, raw, rawTar, sha256, snapshot, T0, tarLayer } from './layers.js';

const xattr = (p: string, key: string) => lgetxattr(fromUtf8(p), key);

test('regular files, dirs, symlinks, hardlinks: contents, modes, owners, times', async (t) => {
  const root = tempDir(t);
  const layer = await tarLayer([
    { name: 'etc/', type: 'directory', mode: 0o755 },
    { name: 'etc/hostname', content: 'box\n', mode: 0o644, uid: 1000, gid: 1001 },
    { name: 'usr/bin/sudo', content: 'x'.repeat(70000), mode: 0o4755 },
    { name: 'var/mail/', type: 'directory', mode: 0o2775, gid: 8 },
    { name: 'tmp/', type: 'directory', mode: 0o1777 },
    { name: 'bin/sh', type: 'symlink', linkname: '/usr/bin/dash', uid: 7, gid: 8 },
    { name: 'etc/hostname2', type: 'link', linkname: 'etc/hostname', uid: 1000, gid: 1001 },
    { name: './etc//motd', content: '' },
  ]);
  const result = await apply(layer, root);
  assert.equal(result.digest, sha256(layer));
  assert.equal(result.size, layer.length);
  assert.deepEqual(result.compressed, { digest: sha256(layer), size: layer.length, compression: 'none' });

  const s = snapshot(root, { times: true });
  assert.deepEqual(s['etc/hostname'], { type: 'file', mode: 0o644, uid: 1000, gid: 1001, size: 4, sha: sha256(Buffer.from('box\n')), mtime: T0.getTime() / 1000 });
  assert.equal(s['usr/bin/sudo']!.mode, 0o4755, 'setuid survives the chown');
  assert.equal(s['usr/bin/sudo']!.size, 70000);
  assert.deepEqual([s['var/mail']!.mode, s['var/mail']!.gid], [0o2775, 8]);
  assert.equal(s['tmp']!.mode, 0o1777);
  assert.deepEqual(s['bin/sh'], { type: 'symlink', mode: 0o777, uid: 7, gid: 8, link: '/usr/bin/dash', mtime: T0.getTime() / 1000 });
  assert.equal(lstatSync(`${root}/etc/hostname2`).ino, lstatSync(`${root}/etc/hostname`).ino);
  assert.equal(lstatSync(`${root}/etc/hostname`).nlink, 2);
  // (A hardlink entry's owner/mode/times apply to the shared inode, as in containerd.)
  assert.equal(s['etc/motd']!.size, 0);
  // Implied parents: 0755 root-owned; directory times applied after their children were written.
  assert.deepEqual([s['usr']!.mode, s['usr/bin']!.mode, s['usr']!.uid], [0o755, 0o755, 0]);
  assert.equal(statSync(`${root}/etc`).mtimeMs, T0.getTime());
});

test('device nodes and fifos are created with their numbers and modes', async (t) => {
  const root = tempDir(t);
  await apply(
    await tarLayer([
      { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
      { name: 'dev/loop0', type: 'block-device', devmajor: 7, devminor: 0, mode: 0o660, gid: 6 },
      { name: 'run/initctl', type: 'fifo', mode: 0o600 },
    ]),
    root,
  );
  const s = snapshot(root);
  assert.deepEqual(s['dev/null'], { type: 'char', mode: 0o666, uid: 0, gid: 0, rdev: [1, 3] });
  assert.deepEqual(s['dev/loop0'], { type: 'block', mode: 0o660, uid: 0, gid: 6, rdev: [7, 0] });
  // tar-stream's packer writes 6 octal digits; the raw writer has the full 7.
  await apply(rawTar([{ header: raw({ name: 'dev/big', typeflag: '3', devmajor: 4095, devminor: 1048575 }) }]), root);
  assert.deepEqual(snapshot(root)['dev/big']!.rdev, [4095, 1048575]);
  assert.equal(s['run/initctl']!.type, 'fifo');
});

test('xattrs from PAX records, binary values intact; trusted.* ignored with a warning', async (t) => {
  const root = tempDir(t);
  // VFS_CAP_REVISION_2 + effective; permitted: cap_setuid (0x80) and cap_net_bind_service (0x400).
  const cap = Buffer.from('0100000280040000000000000000000000000000', 'hex');
  const warnings: string[] = [];
  const layer = rawTar([
    {
      header: raw({
        name: 'bin/ping',
        mode: 0o755,
        size: 4,
        pax: new Map([
          ['SCHILY.xattr.security.capability', cap],
          ['SCHILY.xattr.user.comment', Buffer.from('héllo')],
          ['SCHILY.xattr.trusted.overlay.opaque', Buffer.from('y')],
        ]),
      }),
      content: Buffer.from('ELF!'),
    },
    { header: raw({ name: 'bin/link', typeflag: '2', linkname: 'ping', pax: new Map([['SCHILY.xattr.user.x', Buffer.from('1')]]) }) },
  ]);
  await apply(layer, root, { onWarning: (m) => warnings.push(m) });
  assert.deepEqual(xattr(`${root}/bin/ping`, 'security.capability'), cap);
  assert.equal(xattr(`${root}/bin/ping`, 'user.comment')?.toString(), 'héllo');
  assert.equal(xattr(`${root}/bin/ping`, 'trusted.overlay.opaque'), null);
  assert.equal(readFileSync(`${root}/bin/ping`, 'utf8'), 'ELF!');
  assert.equal(warnings.length, 2, warnings.join('\n'));
  assert.match(warnings[0]!, /trusted\.overlay\.opaque/);
  assert.match(warnings[1]!, /user\.x.*bin\/link/, 'user.* on a symlink is EPERM: ignored');
});

test('file owners exact in a setgid directory, in a target made setgid, and in plain ones', async (t) => {
  const layer = rawTar([
    { header: raw({ name: 'mail/', typeflag: '5', mode: 0o2775, gid: 8 }) },
    { header: raw({ name: 'mail/root', size: 1 }), content: Buffer.from('a') },
    { header: raw({ name: 'plain/f', size: 1 }), content: Buffer.from('b') },
    { header: raw({ name: 'plain/g', size: 1, uid: 5, gid: 6 }), content: Buffer.from('c') },
  ]);
  const root = tempDir(t);
  await apply(layer, root);
  const owner = (p: string) => [lstatSync(p).uid, lstatSync(p).gid];
  assert.equal(lstatSync(`${root}/mail`).gid, 8);
  assert.deepEqual(owner(`${root}/mail/root`), [0, 0], 'not the setgid directory group');
  assert.deepEqual(owner(`${root}/plain/f`), [0, 0]);
  assert.deepEqual(owner(`${root}/plain/g`), [5, 6]);

  const sgid = tempDir(t);
  chmodSync(sgid, 0o2755);
  chownSync(sgid, 0, 9);
  await apply(rawTar([{ header: raw({ name: 'top', size: 1 }), content: Buffer.from('d') }]), sgid);
  assert.deepEqual(owner(`${sgid}/top`), [0, 0], 'not the setgid target group');
});

test('file modes exact whatever decides them at creation: umask, a default ACL in the layer, a target not empty', async (t) => {
  // posix_acl_xattr v2: user::rwx group::r-x other::--- (a default ACL replaces the umask below it).
  const acl = Buffer.alloc(4 + 3 * 8);
  acl.writeUInt32LE(2, 0);
  [[0x01, 7], [0x04, 5], [0x20, 0]].forEach(([tag, perm], i) => {
    acl.writeUInt16LE(tag!, 4 + i * 8);
    acl.writeUInt16LE(perm!, 6 + i * 8);
    acl.writeUInt32LE(0xffffffff, 8 + i * 8);
  });
  const layer = rawTar([
    { header: raw({ name: 'plain', mode: 0o666, size: 1 }), content: Buffer.from('a') },
    { header: raw({ name: 'shared/', typeflag: '5', mode: 0o755, pax: new Map([['SCHILY.xattr.system.posix_acl_default', acl]]) }) },
    { header: raw({ name: 'shared/f', mode: 0o644, size: 1 }), content: Buffer.from('b') },
    { header: raw({ name: 'shared/x', mode: 0o755, size: 1 }), content: Buffer.from('c') },
  ]);
  const fresh = tempDir(t);
  await apply(layer, fresh);
  if (xattr(`${fresh}/shared`, 'system.posix_acl_default') === null) return t.skip('no POSIX ACLs on this filesystem');
  const modes = (root: string) => ['plain', 'shared/f', 'shared/x'].map((p) => lstatSync(`${root}/${p}`).mode & 0o7777);
  assert.deepEqual(modes(fresh), [0o666, 0o644, 0o755]);

  // A target with an inherited default ACL already in it: nothing in the layer says so.
  const used = tempDir(t);
  mkdirSync(`${used}/shared`);
  lsetxattr(fromUtf8(`${used}/shared`), 'system.posix_acl_default', acl);
  await apply(rawTar([{ header: raw({ name: 'shared/g', mode: 0o644, size: 1 }), content: Buffer.from('d') }]), used);
  assert.equal(lstatSync(`${used}/shared/g`).mode & 0o7777, 0o644);
});

test('PAX records: long names, uid/gid beyond octal, nanosecond mtimes, old and huge times', async (t) => {
  const root = tempDir(t);
  const long = `${'d'.repeat(120)}/${'f'.repeat(150)}`;
  const layer = rawTar([
    { header: raw({ name: long, size: 2, uid: 3_000_000, gid: 4_000_000 }), content: Buffer.from('ok') },
    { header: raw({ name: 'ns', pax: new Map([['mtime', Buffer.from('1234567890.123456789')], ['atime', Buffer.from('1300000000.5')]]) }) },
    { header: raw({ name: 'old', pax: new Map([['mtime', Buffer.from('-100')]]) }) },
    { header: raw({ name: 'huge', pax: new Map([['mtime', Buffer.from('99999999999999999999')]]) }) },
    { header: raw({ name: 'lnk', typeflag: '2', linkname: 'x'.repeat(300) }) },
  ]);
  await apply(layer, root);
  const st = statSync(`${root}/${long}`);
  assert.deepEqual([st.uid, st.gid, readFileSync(`${root}/${long}`, 'utf8')], [3_000_000, 4_000_000, 'ok']);
  const ns = lstatSync(`${root}/ns`, { bigint: true });
  assert.equal(ns.mtimeNs, 1234567890_123456789n);
  assert.equal(ns.atimeNs, 1300000000_500000000n, 'atime is the later of atime and mtime');
  assert.equal(lstatSync(`${root}/old`).mtimeMs, 0, 'times before 1970 become the epoch');
  assert.equal(lstatSync(`${root}/huge`).mtimeMs, 0, 'times beyond the int64 range become the epoch');
  assert.equal(readlinkSync(`${root}/lnk`), 'x'.repeat(300));
});

test('non-UTF-8 names are kept byte-exact', async (t) => {
  const root = tempDir(t);
  const name = Buffer.from([0x63, 0x61, 0x66, 0xe9]).toString('latin1'); // "café" in latin1
  const header = raw({ name: 'x', size: 1 });
  header.name = name;
  await apply(rawTar([{ header, content: Buffer.from('1') }]), root);
  const { readdirSync } = await import('node:fs');
  const names = readdirSync(root, { encoding: 'buffer' });
  assert.deepEqual(names, [Buffer.from([0x63, 0x61, 0x66, 0xe9])]);
});

test('existing paths: replaced unless dir over dir, which merges metadata and keeps children', async (t) => {
  const root = tempDir(t);
  mkdirSync(`${root}/d/keep`, { recursive: true });
  mkdirSync(`${root}/was-dir/child`, { recursive: true });
  writeFileSync(`${root}/was-file`, 'old');
  symlinkSync('/nowhere', `${root}/was-link`);
  writeFileSync(`${root}/f`, 'old content that is longer');
  await apply(
    await tarLayer([
      { name: 'd/', type: 'directory', mode: 0o700, uid: 5 },
      { name: 'was-dir', content: 'now a file' },
      { name: 'was-file/', type: 'directory' },
      { name: 'was-link/', type: 'directory' },
      { name: 'was-link/inside', content: 'in a real dir' },
      { name: 'f', content: 'new' },
    ]),
    root,
  );
  const s = snapshot(root);
  assert.deepEqual([s['d']!.mode, s['d']!.uid, s['d/keep']?.type], [0o700, 5, 'dir']);
  assert.equal(s['was-dir']!.type, 'file');
  assert.equal(s['was-dir/child'], undefined);
  assert.equal(s['was-file']!.type, 'dir');
  assert.equal(s['was-link']!.type, 'dir');
  assert.equal(readFileSync(`${root}/f`, 'utf8'), 'new');
});

test("'apply' whiteouts delete lower files; opaque dirs keep only what this layer unpacked", async (t) => {
  const root = tempDir(t);
  for (const d of ['etc', 'opq/sub', 'opq2/sub', 'gone/deep']) mkdirSync(`${root}/${d}`, { recursive: true });
  for (const f of ['etc/a', 'etc/b', 'opq/x', 'opq/sub/y', 'opq2/other', 'opq2/sub/old', 'gone/deep/z']) writeFileSync(`${root}/${f}`, f);
  await apply(
    await tarLayer([
      { name: 'etc/.wh.a' },
      { name: '.wh.gone' },
      { name: 'opq/', type: 'directory' },
      { name: 'opq/.wh..wh..opq' },
      { name: 'opq/new', content: 'n' },
      // The marker after the entries it must spare (containerd tracks unpacked paths for this).
      { name: 'opq2/sub/z', content: 'z' },
      { name: 'opq2/.wh..wh..opq' },
    ]),
    root,
  );
  const names = Object.keys(snapshot(root)).sort();
  assert.deepEqual(names, ['etc', 'etc/b', 'opq', 'opq/new', 'opq2', 'opq2/sub', 'opq2/sub/z']);
});

test("'overlay' whiteouts: 0/0 char devices owned per header, opaque dirs get trusted.overlay.opaque=y", async (t) => {
  const root = tempDir(t);
  const warnings: string[] = [];
  await apply(
    await tarLayer([
      { name: 'etc/.wh.passwd', uid: 3, gid: 4 },
      { name: 'var/cache/', type: 'directory' },
      { name: 'var/cache/.wh..wh..opq' },
      { name: 'var/cache/fresh', content: 'f' },
    ]),
    root,
    { whiteouts: 'overlay', onWarning: (m) => warnings.push(m) },
  );
  const s = snapshot(root);
  assert.deepEqual(s['etc/passwd'], { type: 'char', mode: 0, uid: 3, gid: 4, rdev: [0, 0] });
  assert.equal(s['etc/.wh.passwd'], undefined);
  assert.equal(s['var/cache/.wh..wh..opq'], undefined);
  assert.equal(xattr(`${root}/var/cache`, 'trusted.overlay.opaque')?.toString(), 'y');
  assert.equal(s['var/cache/fresh']!.type, 'file');
  assert.deepEqual(warnings, []);
});

test('overlay apply copies implied parent dirs\' attributes from the lower layers', async (t) => {
  const base = tempDir(t);
  const lower = `${base}/lower`;
  const upper = `${base}/upper`;
  mkdirSync(`${lower}/srv/www`, { recursive: true });
  mkdirSync(upper);
  const { chmodSync, chownSync } = await import('node:fs');
  chmodSync(`${lower}/srv/www`, 0o750);
  chownSync(`${lower}/srv/www`, 33, 33);
  await apply(await tarLayer([{ name: 'srv/www/index.html', content: 'hi' }, { name: 'opt/x', content: 'x' }]), upper, {
    whiteouts: 'overlay',
    parents: [lower],
  });
  const s = snapshot(upper);
  assert.deepEqual([s['srv/www']!.mode, s['srv/www']!.uid, s['srv/www']!.gid], [0o750, 33, 33]);
  assert.deepEqual([s['opt']!.mode, s['opt']!.uid], [0o755, 0]);
});

test('symlinks already in the tree are followed inside the root, absolute ones re-rooted', async (t) => {
  const base = tempDir(t);
  const root = `${base}/root`;
  mkdirSync(`${root}/usr/lib`, { recursive: true });
  mkdirSync(`${root}/run`);
  symlinkSync('usr/lib', `${root}/lib`);
  symlinkSync('/run', `${root}/var-run`);
  await apply(
    await tarLayer([
      { name: 'lib/libc.so', content: 'c' },
      { name: 'var-run/pid', content: '1' },
    ]),
    root,
  );
  assert.equal(readFileSync(`${root}/usr/lib/libc.so`, 'utf8'), 'c');
  assert.equal(readFileSync(`${root}/run/pid`, 'utf8'), '1');
});

test('hardlink to a missing target fails the apply', async (t) => {
  const root = tempDir(t);
  await assert.rejects(apply(await tarLayer([{ name: 'a', type: 'link', linkname: 'missing' }]), root), {
    name: 'UnsafeEntryError',
    rule: 'hardlink-target',
  });
});

test('the gzip layer digest/size are reported for the caller to verify', async (t) => {
  const root = tempDir(t);
  const tarball = await tarLayer([{ name: 'f', content: 'data' }]);
  const { gzipSync } = await import('node:zlib');
  const blob = gzipSync(tarball);
  const r = await apply(blob, root, { mediaType: OCI_GZIP, chunk: 7 });
  assert.deepEqual(r, {
    digest: sha256(tarball),
    size: tarball.length,
    compressed: { digest: sha256(blob), size: blob.length, compression: 'gzip' },
    entries: 1,
  });
});

test('an aborted apply stops with the abort reason', async (t) => {
  const root = tempDir(t);
  const controller = new AbortController();
  controller.abort(new Error('client went away'));
  await assert.rejects(apply(await tarLayer([{ name: 'f', content: 'x' }]), root, { signal: controller.signal }), /client went away/);
});

test('device numbers survive the glibc makedev/major/minor encoding', () => {
  for (const [ma, mi] of [[0, 0], [1, 3], [259, 65536], [4095, 1048575]] as const) {
    const dev = makedev(ma, mi);
    assert.deepEqual([major(dev), minor(dev)], [ma, mi]);
  }
});

test('aborting mid-layer stops the apply and destroys the input', async (t) => {
  const root = tempDir(t);
  const layer = await tarLayer([{ name: 'first', content: 'x' }, { name: 'second', content: Buffer.alloc(100_000) }]);
  const { Readable } = await import('node:stream');
  let sent = false;
  const input = new Readable({
    read() {
      if (!sent) this.push(layer.subarray(0, 2048)); // then stall, like a slow registry
      sent = true;
    },
  });
  const controller = new AbortController();
  const applying = applyLayer(input, root, { mediaType: OCI_TAR, whiteouts: 'apply', signal: controller.signal });
  setTimeout(() => controller.abort(new Error('deadline exceeded')), 50);
  await assert.rejects(applying, /deadline exceeded/);
  assert.ok(input.destroyed);
  assert.equal(readFileSync(`${root}/first`, 'utf8'), 'x');
});

test('aborting before the first bytes arrive stops the apply', async (t) => {
  const { Readable } = await import('node:stream');
  const input = new Readable({ read() {} }); // never sends anything
  const controller = new AbortController();
  const applying = applyLayer(input, tempDir(t), { mediaType: OCI_GZIP, whiteouts: 'overlay', signal: controller.signal });
  setTimeout(() => controller.abort(new Error('cancelled by client')), 20);
  await assert.rejects(applying, /cancelled by client/);
  assert.ok(input.destroyed);
});
