// Who did it: every record a call appends names the caller's uid, gid and pid (SO_PEERCRED on
// the daemon's socket); records the daemon writes itself name the part that wrote them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { LEDGERCTL, startTestDaemon } from '../helpers/daemon.js';

const run = promisify(execFile);
const CTR = '/usr/bin/ctr';

test('records name the calling uid, gid and pid; log show --actor finds them', { skip: process.getuid?.() !== 0 && 'needs root to run a client as another uid' }, async (t) => {
  const daemon = await startTestDaemon(t, { args: ['--log-level', 'warn'] });
  // let uid 1000 reach the socket (containerd's socket is 0660 root:root by default)
  chmodSync(dirname(daemon.address), 0o711);
  chmodSync(daemon.address, 0o666);
  const ctl = (...args: string[]) => run(process.execPath, [LEDGERCTL, '-a', daemon.address, ...args]).then((r) => r.stdout);
  const records = (stdout: string) => stdout.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as { type: string; namespace: string; meta: Record<string, unknown> });

  // a client of another uid, and one of ours
  const other = execFile(CTR, ['-a', daemon.address, 'namespaces', 'create', 'by-alice', 'team=a'], { uid: 1000, gid: 1000 });
  const otherPid = other.pid;
  await new Promise<void>((resolve, reject) => other.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ctr as uid 1000 exited ${code}`)))));
  await run(CTR, ['-a', daemon.address, 'namespaces', 'create', 'by-root']);

  const all = records(await ctl('log', 'show'));
  const alice = all.find((r) => r.type === 'NamespaceCreated' && r.namespace === 'by-alice')!;
  assert.deepEqual([alice.meta.peerUid, alice.meta.peerGid, alice.meta.peerPid], [1000, 1000, otherPid]);
  assert.match(String(alice.meta.userAgent), /grpc-go/);
  const root = all.find((r) => r.type === 'NamespaceCreated' && r.namespace === 'by-root')!;
  assert.equal(root.meta.peerUid, 0);

  const byAlice = records(await ctl('log', 'show', '--actor', 'uid=1000'));
  assert.deepEqual(byAlice.map((r) => `${r.type} ${r.namespace}`), ['NamespaceCreated by-alice']);
  const filtered = records(await ctl('log', 'show', '--actor', 'uid=0', '--filter', 'type==NamespaceCreated'));
  assert.deepEqual(filtered.map((r) => r.namespace), ['by-root']);
  await assert.rejects(ctl('log', 'show', '--actor', 'uid=x'), /--actor uid=x: must be uid=N/);

  // the daemon's own records: a lease expired and collected by the GC says so
  await run(CTR, ['-a', daemon.address, '-n', 'by-root', 'leases', 'create', '--expires', '1s', 'short']);
  await run(CTR, ['-a', daemon.address, '-n', 'by-root', 'leases', 'ls']);
  const deadline = Date.now() + 30_000;
  let collected: ReturnType<typeof records> = [];
  while (collected.length === 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    await ctl('gc').catch(() => '');
    collected = records(await ctl('log', 'show', '--actor', 'gc'));
  }
  assert.deepEqual(collected.map((r) => `${r.type} ${r.namespace}`), ['LeaseDeleted by-root']);
});
