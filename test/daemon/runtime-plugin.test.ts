// The io.containerd.runtime.v2.task plugin in the daemon: loaded, its ttrpc events socket for
// shims at <grpc address>.ttrpc while the daemon runs, removed when it stops.
import assert from 'node:assert/strict';
import { existsSync, lstatSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startTestDaemon } from '../helpers/daemon.js';
import { tempDir } from '../helpers/tmp.js';
import { ctrAt, skipWithoutCtr } from '../helpers/ctr.js';

test('the shim v2 runtime plugin loads and serves its ttrpc socket until the daemon stops', { skip: skipWithoutCtr }, async (t) => {
  const daemon = await startTestDaemon(t);
  assert.match(ctrAt(daemon.address)('plugins', 'ls'), /^io\.containerd\.runtime\.v2\s+task\s+linux\/\w+\s+ok\s*$/m);
  const socket = `${daemon.address}.ttrpc`;
  assert.ok(lstatSync(socket).isSocket());
  assert.equal(lstatSync(socket).mode & 0o777, 0o600);
  assert.equal(await daemon.stop(), 0);
  assert.equal(existsSync(socket), false);
});

test('the plugin keeps one warm shim of its own shim booted, none with warm_shims = 0, and refuses a warm_shims that is no count', { skip: skipWithoutCtr }, async (t) => {
  const warmChildren = (pid: number) =>
    readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .split(' ')
      .filter(Boolean)
      .filter((child) => readFileSync(`/proc/${child}/cmdline`, 'utf8').split('\0').includes('warm'));
  const withConfig = async (text: string) => {
    const dir = tempDir(t);
    writeFileSync(join(dir, 'config.toml'), `version = 2\n[plugins."io.containerd.runtime.v2.task"]\n${text}\n`);
    return startTestDaemon(t, { dir, args: ['-c', join(dir, 'config.toml')] });
  };
  const byDefault = await startTestDaemon(t);
  for (let i = 0; warmChildren(byDefault.process.pid!).length === 0; i++) {
    assert.ok(i < 100, 'a warm shim boots');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.equal(warmChildren(byDefault.process.pid!).length, 1);

  const off = await withConfig('warm_shims = 0');
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.deepEqual(warmChildren(off.process.pid!), []);

  const bad = await withConfig('warm_shims = 2.5');
  assert.match(ctrAt(bad.address)('plugins', 'ls'), /^io\.containerd\.runtime\.v2\s+task\s+\S+\s+error\s*$/m);
  assert.match(bad.output(), /warm_shims: must be a whole number, 0 or more \(got 2\.5\)/);
});
