// SIGKILL in the middle of a pull: after a restart, what was acknowledged is intact, what was
// half-done is reconciled away or resumable, and the same pull then completes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startTestDaemon, LEDGERCTL } from '../helpers/daemon.js';
import { ctrAt } from '../helpers/ctr.js';
import { skipWithoutReference, startRegistry } from '../helpers/harness-services.js';

const REGISTRY_PORT = 5122;
const NS = 'crashpull';

test('a pull killed with SIGKILL leaves only intact content and owned snapshots; pulling again completes', { skip: skipWithoutReference, timeout: 300_000 }, async (t) => {
  const registry = startRegistry(t, REGISTRY_PORT);
  const daemon = await startTestDaemon(t);
  const ref = `${registry}/layered:latest`;

  const pull = spawn('ctr', ['--address', daemon.address, '-n', NS, 'images', 'pull', '--plain-http', ref], { stdio: 'ignore' });
  t.after(() => pull.kill('SIGKILL'));
  // kill once the first layers are committed and others are still being written or unpacked
  const snapshotsDir = join(daemon.root, 'io.containerd.snapshotter.v1.overlayfs', 'snapshots');
  for (let i = 0; i < 600 && !(existsSync(snapshotsDir) && readdirSync(snapshotsDir).length >= 2); i++) await new Promise((resolve) => setTimeout(resolve, 25));
  await daemon.kill();
  // a fast pull may have ended before the kill; its 'exit' is then already past
  if (pull.exitCode === null && pull.signalCode === null) await new Promise((resolve) => pull.once('exit', resolve));

  const again = await daemon.restart();
  const ctr = ctrAt(again.address, NS);
  const verify = execFileSync(process.execPath, [LEDGERCTL, '-a', again.address, 'log', 'verify'], { encoding: 'utf8' });
  assert.match(verify, /ok/i);

  // every blob the log says is committed is there and matches its digest
  for (const digest of ctr('content', 'ls', '-q').split('\n').filter(Boolean)) {
    const bytes = execFileSync('ctr', ['--address', again.address, '-n', NS, 'content', 'get', digest], { maxBuffer: 1 << 28 });
    assert.equal(`sha256:${createHash('sha256').update(bytes).digest('hex')}`, digest);
  }
  // every snapshot directory on disk belongs to a snapshot the log knows, and vice versa
  const known = ctr('snapshots', 'ls').split('\n').slice(1).filter(Boolean).length;
  assert.equal(readdirSync(snapshotsDir).length, known, `snapshot directories vs snapshots: ${ctr('snapshots', 'ls')}`);

  ctr('images', 'pull', '--plain-http', ref);
  assert.match(ctr('images', 'check'), new RegExp(`^${ref.replace(/[.]/g, '\\.')}\\s+\\S+\\s+\\S+\\s+complete`, 'm'));
  ctr('images', 'rm', '--sync', ref);
  // the interrupted pull's lease (24 h expiry, as ctr sets it) still holds its part; nothing else is left
  const leases = ctr('leases', 'ls', '-q').split('\n').filter(Boolean);
  for (const lease of leases) ctr('leases', 'rm', '--sync', lease);
  assert.equal(ctr('content', 'ls', '-q').trim(), '');
  assert.equal(ctr('snapshots', 'ls').split('\n').slice(1).filter(Boolean).length, 0);
  assert.deepEqual(readdirSync(snapshotsDir), []);
  assert.deepEqual(readdirSync(join(again.root, 'io.containerd.content.v1.content', 'blobs', 'sha256')), []);
});
