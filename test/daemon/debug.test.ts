// Profiles on demand: the debug socket ([debug] address) and `ledgerctl debug profile|heap`,
// whose files must be what Chrome DevTools opens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { LEDGERCTL, LEDGERD, startTestDaemon } from '../helpers/daemon.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);
const ledgerctl = (...args: string[]) => run(process.execPath, [LEDGERCTL, ...args], { maxBuffer: 1 << 20 });

/** Chrome DevTools' .cpuprofile: Profiler.Profile (nodes with call frames, samples with time deltas). */
function assertCpuProfile(profile: any): void {
  assert.ok(Array.isArray(profile.nodes) && profile.nodes.length > 0, 'nodes');
  assert.equal(profile.nodes[0].callFrame.functionName, '(root)');
  for (const node of profile.nodes) {
    assert.equal(typeof node.id, 'number');
    for (const key of ['functionName', 'scriptId', 'url', 'lineNumber', 'columnNumber']) assert.ok(key in node.callFrame, `callFrame.${key}`);
  }
  assert.equal(typeof profile.startTime, 'number');
  assert.ok(profile.endTime > profile.startTime, 'endTime after startTime');
  assert.ok(Array.isArray(profile.samples) && profile.samples.length > 0, 'samples');
  assert.equal(profile.timeDeltas.length, profile.samples.length);
  const ids = new Set(profile.nodes.map((n: { id: number }) => n.id));
  assert.ok(profile.samples.every((id: number) => ids.has(id)), 'every sample names a node');
}

/** Chrome DevTools' .heapsnapshot: meta describing flat node and edge arrays, and the string table. */
function assertHeapSnapshot(snapshot: any): void {
  const { meta, node_count, edge_count } = snapshot.snapshot;
  for (const key of ['node_fields', 'node_types', 'edge_fields', 'edge_types']) assert.ok(Array.isArray(meta[key]), `snapshot.meta.${key}`);
  assert.ok(node_count > 1000, 'a daemon has more than a thousand heap objects');
  assert.equal(snapshot.nodes.length, node_count * meta.node_fields.length);
  assert.equal(snapshot.edges.length, edge_count * meta.edge_fields.length);
  assert.ok(Array.isArray(snapshot.strings) && snapshot.strings.includes('LedgerError'), 'the strings hold the daemon\'s own names');
}

test('ledgerctl debug profile and heap write a .cpuprofile and a .heapsnapshot from the debug socket', async (t) => {
  const dir = tempDir(t);
  const debugSocket = join(dir, 'debug', 'debug.sock');
  writeFileSync(join(dir, 'config.toml'), `version = 2\n[debug]\naddress = "${debugSocket}"\nuid = 0\ngid = 0\n`);
  await startTestDaemon(t, { args: ['-c', join(dir, 'config.toml')] });
  const socket = statSync(debugSocket);
  assert.ok(socket.isSocket());
  assert.deepEqual([socket.mode & 0o777, socket.uid, socket.gid], [0o660, 0, 0]);

  const profileFile = join(dir, 'daemon.cpuprofile');
  const profiled = await ledgerctl('debug', 'profile', '--seconds', '1', '-o', profileFile, '--debug-address', debugSocket);
  assert.equal(profiled.stdout.trim(), profileFile);
  assertCpuProfile(JSON.parse(readFileSync(profileFile, 'utf8')));

  const heapFile = join(dir, 'daemon.heapsnapshot');
  await ledgerctl('debug', 'heap', '-o', heapFile, '--debug-address', debugSocket);
  assertHeapSnapshot(JSON.parse(readFileSync(heapFile, 'utf8')));

  await assert.rejects(ledgerctl('debug', 'profile', '--seconds', '0', '--debug-address', debugSocket), /--seconds 0: must be a whole number/);
  await assert.rejects(ledgerctl('debug', 'trace', '--debug-address', debugSocket), /debug trace: profile or heap/);
});

test('without [debug] address there is no debug socket, and ledgerctl says how to get one', async (t) => {
  const daemon = await startTestDaemon(t);
  const dumped = await run(process.execPath, [LEDGERD, '--root', daemon.root, '--state', daemon.state, 'config', 'dump']);
  assert.match(dumped.stdout, /\[debug\]\naddress = ""/);
  await assert.rejects(ledgerctl('debug', 'heap', '--debug-address', join(daemon.state, 'debug.sock')), /no debug socket at .*: set \[debug\] address in the daemon's config/);
});
