// The io.containerd.runtime.v2.task plugin in the daemon: loaded, its ttrpc events socket for
// shims at <grpc address>.ttrpc while the daemon runs, removed when it stops.
import assert from 'node:assert/strict';
import { existsSync, lstatSync } from 'node:fs';
import { test } from 'node:test';
import { startTestDaemon } from '../helpers/daemon.js';
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
