import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { OverlayBackend } from '../../src/snapshots/index.js';
import { harness, snapshotterContract, type ContractTarget } from './contract.js';

const target: ContractTarget = { name: 'overlayfs', open: (root) => OverlayBackend.open(root) };

snapshotterContract(target);

const skip = process.getuid?.() === 0 ? false : 'mounting needs root';
const idx = existsSync('/sys/module/overlay/parameters/index') ? ['index=off'] : [];

test('overlayfs: the mounts containerd returns, by kind and depth', { skip }, async (t) => {
  const h = await harness(t, target);
  const s = (id: number, dir = 'fs') => join(h.root, 'snapshots', String(id), dir);
  assert.deepEqual(await h.sn.prepare('ns', 'a', ''), [{ type: 'bind', source: s(1), options: ['rw', 'rbind'] }]);
  assert.equal(statSync(s(1, 'work')).mode & 0o777, 0o711);
  assert.deepEqual(await h.sn.view('ns', 'v0', ''), [{ type: 'bind', source: s(2), options: ['ro', 'rbind'] }]);
  assert.ok(!existsSync(s(2, 'work')), 'a view has no work directory');
  await h.sn.commit('ns', 'A', 'a');
  assert.deepEqual(await h.sn.view('ns', 'v1', 'A'), [{ type: 'bind', source: s(1), options: ['ro', 'rbind'] }]);
  assert.deepEqual(await h.sn.prepare('ns', 'b', 'A'), [
    { type: 'overlay', source: 'overlay', options: [...idx, `workdir=${s(4, 'work')}`, `upperdir=${s(4)}`, `lowerdir=${s(1)}`] },
  ]);
  await h.sn.commit('ns', 'B', 'b');
  assert.deepEqual(await h.sn.view('ns', 'v2', 'B'), [{ type: 'overlay', source: 'overlay', options: [...idx, `lowerdir=${s(4)}:${s(1)}`] }]);
  assert.deepEqual(await h.sn.prepare('ns', 'c', 'B'), [
    { type: 'overlay', source: 'overlay', options: [...idx, `workdir=${s(6, 'work')}`, `upperdir=${s(6)}`, `lowerdir=${s(4)}:${s(1)}`] },
  ]);
});

test('overlayfs: a chain deeper than one page of mount options still mounts (compacted lowerdir)', { skip }, async (t) => {
  const h = await harness(t, target);
  let parent = '';
  for (let i = 0; i < 60; i++) {
    await h.sn.prepare('ns', `layer-${i}-active`, parent);
    await h.sn.commit('ns', `layer-${i}`, `layer-${i}-active`);
    parent = `layer-${i}`;
  }
  const mounts = await h.sn.prepare('ns', 'top', parent);
  assert.ok(mounts[0]!.options.join(',').length > 4096 - 512, 'long enough to need compaction');
  await h.mounted(mounts, () => {});
});
