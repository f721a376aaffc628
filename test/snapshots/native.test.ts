import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, symlinkSync, linkSync, statSync, chownSync, writeFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { NativeBackend } from '../../src/snapshots/index.js';
import { harness, snapshotterContract, type ContractTarget } from './contract.js';

const target: ContractTarget = { name: 'native', open: async (root) => new NativeBackend(root) };

snapshotterContract(target);

const skip = process.getuid?.() === 0 ? false : 'mounting needs root';

test('native: the mounts containerd returns (note the option order)', { skip }, async (t) => {
  const h = await harness(t, target);
  const s = (id: number) => join(h.root, 'snapshots', String(id));
  assert.deepEqual(await h.sn.prepare('ns', 'a', ''), [{ type: 'bind', source: s(1), options: ['rbind', 'rw'] }]);
  assert.deepEqual(await h.sn.view('ns', 'v0', ''), [{ type: 'bind', source: s(2), options: ['rbind', 'ro'] }]);
  await h.sn.commit('ns', 'A', 'a');
  assert.deepEqual(await h.sn.view('ns', 'v1', 'A'), [{ type: 'bind', source: s(1), options: ['rbind', 'ro'] }]);
  assert.ok(!existsSync(s(3)), 'a view of a parent has no directory of its own');
  assert.deepEqual(await h.sn.prepare('ns', 'b', 'A'), [{ type: 'bind', source: s(4), options: ['rbind', 'rw'] }]);
  await h.sn.remove('ns', 'v1');
});

test('native: a child is a full copy of its parent: owners, modes, links, symlinks kept', { skip }, async (t) => {
  const h = await harness(t, target);
  await h.mounted(await h.sn.prepare('ns', 'p', ''), (root) => {
    mkdirSync(join(root, 'd'), { mode: 0o750 });
    writeFileSync(join(root, 'd', 'file'), 'data', { mode: 0o640 });
    chownSync(join(root, 'd', 'file'), 1234, 5678);
    linkSync(join(root, 'd', 'file'), join(root, 'hard'));
    symlinkSync('d/file', join(root, 'sym'));
  });
  await h.sn.commit('ns', 'P', 'p');
  await h.mounted(await h.sn.prepare('ns', 'c', 'P'), (root) => {
    const file = statSync(join(root, 'd', 'file'));
    assert.equal(file.mode & 0o777, 0o640);
    assert.equal(statSync(join(root, 'd')).mode & 0o777, 0o750);
    assert.deepEqual([file.uid, file.gid], [1234, 5678]);
    assert.equal(statSync(join(root, 'hard')).ino, file.ino, 'hard link kept');
    assert.equal(readlinkSync(join(root, 'sym')), 'd/file');
    assert.equal(readFileSync(join(root, 'sym'), 'utf8'), 'data');
  });
});
