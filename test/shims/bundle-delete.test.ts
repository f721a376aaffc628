// Deleting a bundle: its rootfs is unmounted first when the shim left it mounted, the bundle and
// its work directory go, and a rootfs still holding files after the unmount is never deleted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createBundle, deleteBundle } from '../../src/shims/runtime/bundle.js';
import { tempDir } from '../helpers/tmp.js';

const skip = process.getuid?.() !== 0 && 'needs root (mount)';
const mounted = (path: string) => readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${path} `);

test('a bundle whose rootfs the shim unmounted goes with its work directory', async (t) => {
  const dir = tempDir(t, 'ledgerd-bundle-');
  const bundle = await createBundle(join(dir, 'root'), join(dir, 'state'), 'ns', 'plain', Buffer.from('{}'));
  await deleteBundle(bundle);
  assert.ok(!existsSync(bundle.path));
  assert.ok(!existsSync(join(dir, 'root', 'ns', 'plain')));
});

test('a rootfs left mounted is unmounted before its bundle goes', { skip }, async (t) => {
  const dir = tempDir(t, 'ledgerd-bundle-');
  const bundle = await createBundle(join(dir, 'root'), join(dir, 'state'), 'ns', 'mounted', Buffer.from('{}'));
  const rootfs = join(bundle.path, 'rootfs');
  execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', rootfs]);
  t.after(() => mounted(rootfs) && execFileSync('umount', ['-l', rootfs]));
  writeFileSync(join(rootfs, 'file'), 'the container wrote this');
  await deleteBundle(bundle);
  assert.ok(!mounted(rootfs));
  assert.ok(!existsSync(bundle.path));
});

test('a rootfs holding files that are no mount is refused, and nothing is deleted', async (t) => {
  const dir = tempDir(t, 'ledgerd-bundle-');
  const bundle = await createBundle(join(dir, 'root'), join(dir, 'state'), 'ns', 'full', Buffer.from('{}'));
  mkdirSync(join(bundle.path, 'rootfs', 'etc'));
  await assert.rejects(deleteBundle(bundle), /failed to remove bundle rootfs: .* is not empty/);
  assert.ok(existsSync(join(bundle.path, 'rootfs', 'etc')));
});
