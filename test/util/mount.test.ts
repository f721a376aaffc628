import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMountPoint, mount, mountAll, MountError, unmount, unmountAll } from '../../src/util/mount/index.js';
import { MS_BIND, MS_RDONLY, MS_REMOUNT, parseMountOptions } from '../../src/util/mount/syscall.js';
import { tempDir } from '../helpers/tmp.js';

const asRoot = { skip: process.getuid?.() !== 0 ? 'needs root' : false };

test('options split into mount flags and file-system data as containerd does (later options win)', () => {
  assert.deepEqual(parseMountOptions(['rbind', 'ro']), { flags: MS_BIND | 0x4000 | MS_RDONLY, data: '' });
  assert.deepEqual(parseMountOptions(['ro', 'rw', 'remount']), { flags: MS_REMOUNT, data: '' });
  assert.deepEqual(parseMountOptions(['index=off', 'workdir=/w', 'upperdir=/u', 'lowerdir=/l', 'defaults']), { flags: 0, data: 'index=off,workdir=/w,upperdir=/u,lowerdir=/l' });
});

test('a read-only bind mount is mounted by mount(2) and really read-only; unmount takes it away', asRoot, async (t) => {
  const dir = tempDir(t);
  const [source, target] = [join(dir, 'src'), join(dir, 'dst')];
  mkdirSync(source);
  mkdirSync(target);
  writeFileSync(join(source, 'f'), 'hello');
  await mount({ type: 'bind', source, options: ['rbind', 'ro'] }, target);
  try {
    assert.ok(isMountPoint(target));
    assert.equal(readFileSync(join(target, 'f'), 'utf8'), 'hello');
    assert.throws(() => writeFileSync(join(target, 'g'), 'x'), { code: 'EROFS' });
  } finally {
    await unmount(target);
  }
  assert.ok(!isMountPoint(target));
  await unmount(target); // not a mount point: nothing to do
});

test('an overlay of two lowers and an upper shows the merged tree; writes land in the upper', asRoot, async (t) => {
  const dir = tempDir(t);
  const path = (name: string) => join(dir, name);
  for (const name of ['l1', 'l2', 'upper', 'work', 'merged']) mkdirSync(path(name));
  writeFileSync(path('l1/a'), 'from l1');
  writeFileSync(path('l2/a'), 'from l2');
  writeFileSync(path('l2/b'), 'only l2');
  await mountAll([{ type: 'overlay', source: 'overlay', options: ['index=off', `workdir=${path('work')}`, `upperdir=${path('upper')}`, `lowerdir=${path('l1')}:${path('l2')}`] }], path('merged'));
  try {
    assert.equal(readFileSync(path('merged/a'), 'utf8'), 'from l1');
    assert.equal(readFileSync(path('merged/b'), 'utf8'), 'only l2');
    writeFileSync(path('merged/c'), 'new');
    assert.equal(readFileSync(path('upper/c'), 'utf8'), 'new');
  } finally {
    await unmountAll(path('merged'));
  }
});

test('a failed mount names the mount and the errno, and leaves nothing mounted', asRoot, async (t) => {
  const dir = tempDir(t);
  const target = join(dir, 'dst');
  mkdirSync(target);
  await assert.rejects(mount({ type: 'bind', source: join(dir, 'missing'), options: ['rbind'] }, target), (err: Error) => {
    assert.ok(err instanceof MountError);
    assert.match(err.message, /mount -t bind .*missing .*dst.*ENOENT/);
    return true;
  });
  assert.ok(!isMountPoint(target));
});
