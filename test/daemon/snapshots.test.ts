// Snapshots through a real daemon: Debian's `ctr` (containerd 1.6) and the gRPC API, with real mounts.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { status, type ServiceError } from '@grpc/grpc-js';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { ctrAt, runHarness, skipWithoutCtr, skipWithoutHarness } from '../helpers/ctr.js';
import { mountPointsUnder, unmountAll } from '../../src/util/mount/index.js';

const SNAPSHOTS = 'containerd.services.snapshots.v1.Snapshots';
const LEASES = 'containerd.services.leases.v1.Leases';

const skipCtr = process.getuid?.() !== 0 ? 'mounting needs root' : skipWithoutCtr;
const skipRoot = process.getuid?.() !== 0 ? 'mounting needs root' : false;

const grpcError = (code: status, pattern?: RegExp) => (err: unknown) => {
  const e = err as ServiceError;
  assert.equal(e.code, code, `code ${e.code} (${e.details})`);
  if (pattern) assert.match(e.details, pattern);
  return true;
};

/** A daemon in a private directory; whatever is still mounted under it is unmounted before it is deleted. */
async function daemonWithMounts(t: TestContext): Promise<{ daemon: TestDaemon; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'ledgerd-snapd-'));
  t.after(async () => {
    for (const point of mountPointsUnder(dir)) await unmountAll(point);
    rmSync(dir, { recursive: true, force: true });
  });
  const daemon = await startTestDaemon(t, { dir: join(dir, 'd') });
  return { daemon, dir };
}

const ctrIn = (address: string, ns: string) => ctrAt(address, ns);

/** Runs the mount command ctr printed (exactly as a user would paste it). */
function runMount(command: string): void {
  assert.match(command, /^mount -t (bind|overlay) \S+ \S+ -o \S+$/, command);
  execFileSync('sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'] });
}

for (const snapshotter of ['overlayfs', 'native']) {
  test(`ctr snapshots (${snapshotter}): prepare, mounts, commit, view, usage, tree, ls, info, label, rm`, { skip: skipCtr }, async (t) => {
    const { daemon, dir } = await daemonWithMounts(t);
    const c = ctrIn(daemon.address, 'snapns');
    const sn = (...args: string[]) => c('snapshots', '--snapshotter', snapshotter, ...args);
    const target = join(dir, 'mnt');
    mkdirSync(target);

    sn('prepare', 'base-active');
    const first = sn('mounts', target, 'base-active').trim();
    assert.match(first, snapshotter === 'overlayfs' ? /^mount -t bind \S+\/io\.containerd\.snapshotter\.v1\.overlayfs\/snapshots\/1\/fs \S+ -o rw,rbind$/ : /^mount -t bind \S+\/io\.containerd\.snapshotter\.v1\.native\/snapshots\/1 \S+ -o rbind,rw$/);
    runMount(first);
    writeFileSync(join(target, 'marker'), 'from base\n');
    writeFileSync(join(target, 'blob'), Buffer.alloc(1 << 20, 1));
    await unmountAll(target);

    sn('commit', 'base', 'base-active');
    assert.match(sn('ls'), /^base\s+Committed\s*$/m);
    assert.doesNotMatch(sn('ls'), /base-active/);
    const info = JSON.parse(sn('info', 'base')) as { Kind: string; Name: string; Labels?: Record<string, string> };
    assert.equal(info.Kind, 'Committed');
    assert.equal(info.Name, 'base');

    sn('prepare', 'child', 'base');
    const childMount = sn('mounts', target, 'child').trim();
    if (snapshotter === 'overlayfs') assert.match(childMount, /^mount -t overlay overlay \S+ -o (index=off,)?workdir=\S+\/2\/work,upperdir=\S+\/2\/fs,lowerdir=\S+\/1\/fs$/);
    runMount(childMount);
    assert.equal(readFileSync(join(target, 'marker'), 'utf8'), 'from base\n');
    writeFileSync(join(target, 'marker'), 'from child\n');
    await unmountAll(target);

    sn('view', 'look', 'base');
    runMount(sn('mounts', target, 'look').trim());
    assert.equal(readFileSync(join(target, 'marker'), 'utf8'), 'from base\n');
    assert.throws(() => writeFileSync(join(target, 'x'), 'y'), { code: 'EROFS' });
    await unmountAll(target);

    const usage = sn('usage', '-b', 'base');
    const size = Number(/^base\s+(\d+)\s+(\d+)/m.exec(usage)?.[1]);
    assert.ok(size >= 1 << 20, usage);
    assert.match(sn('usage'), /^child\s+\S+/m);

    assert.match(sn('tree'), /^ *base\n *\\_ child\n *\\_ look$/m);
    assert.match(sn('ls'), /^child\s+base\s+Active\s*$/m);
    assert.match(sn('ls'), /^look\s+base\s+View\s*$/m);

    assert.match(sn('label', 'base', 'tier=gold'), /tier=gold/);
    assert.equal((JSON.parse(sn('info', 'base')) as { Labels: Record<string, string> }).Labels.tier, 'gold');
    sn('label', 'base', 'tier=');
    assert.equal((JSON.parse(sn('info', 'base')) as { Labels?: Record<string, string> }).Labels?.tier, undefined);

    // namespaces holding snapshots cannot be deleted
    assert.throws(
      () => execFileSync('ctr', ['--address', daemon.address, 'namespaces', 'rm', 'snapns'], { stdio: ['ignore', 'pipe', 'pipe'] }),
      (err: { stderr: Buffer }) => new RegExp(`must be empty, but it still has snapshots on "${snapshotter}" snapshotter`).test(err.stderr.toString()),
    );
    assert.throws(() => sn('rm', 'base'), (err: { stderr: Buffer }) => /cannot remove snapshot with child/.test(err.stderr.toString()));
    assert.throws(() => sn('prepare', 'child', 'base'), (err: { stderr: Buffer }) => /already exists/.test(err.stderr.toString()));
    sn('rm', 'child', 'look');
    sn('rm', 'base');
    assert.equal(sn('ls').trim(), 'KEY PARENT KIND');
    assert.throws(() => sn('rm', 'base'), (err: { stderr: Buffer }) => /does not exist: not found/.test(err.stderr.toString()));
    const root = join(daemon.root, `io.containerd.snapshotter.v1.${snapshotter}`, 'snapshots');
    assert.ok(existsSync(root));
    assert.deepEqual(execFileSync('ls', ['-A', root], { encoding: 'utf8' }), '', 'every directory removed');
    execFileSync('ctr', ['--address', daemon.address, 'namespaces', 'rm', 'snapns']);
  });
}

test('ctr: an unknown snapshotter and the topics of ctr events (no event for a view)', { skip: skipCtr }, async (t) => {
  const { daemon } = await daemonWithMounts(t);
  const c = ctrIn(daemon.address, 'evns');
  assert.throws(() => c('snapshots', '--snapshotter', 'zfs', 'ls'), (err: { stderr: Buffer }) => /snapshotter not loaded: zfs/.test(err.stderr.toString()));
  const events = spawn('ctr', ['--address', daemon.address, 'events'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => events.kill());
  let out = '';
  events.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  await new Promise((resolve) => setTimeout(resolve, 500));
  c('snapshots', 'prepare', 'e1');
  c('snapshots', 'commit', 'e1c', 'e1');
  c('snapshots', 'view', 'e1v', 'e1c');
  c('snapshots', 'rm', 'e1v', 'e1c');
  for (let i = 0; i < 50 && (out.match(/\/snapshot\/remove/g) ?? []).length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 100));
  const lines = out.split('\n').filter((l) => l.includes('/snapshot/'));
  assert.deepEqual(
    lines.map((l) => l.replace(/^.* evns /, '')),
    [
      '/snapshot/prepare {"key":"e1"}',
      '/snapshot/commit {"key":"e1","name":"e1c"}',
      '/snapshot/remove {"key":"e1v"}',
      '/snapshot/remove {"key":"e1c"}',
    ],
  );
});

test('gRPC: List streams blocks of 100 with filters; errors, leases and Cleanup', { skip: skipRoot }, async (t) => {
  const { daemon } = await daemonWithMounts(t);
  const c = daemon.connect('grpcns');
  const call = <R = Record<string, unknown>>(method: string, request: Record<string, unknown>, extra?: Record<string, string>) =>
    c.unary<R>(SNAPSHOTS, method, { snapshotter: 'overlayfs', ...request }, extra);

  await assert.rejects(c.unary(SNAPSHOTS, 'Prepare', { key: 'x' }), grpcError(status.INVALID_ARGUMENT, /^snapshotter argument missing: invalid argument$/));
  await assert.rejects(call('Prepare', { snapshotter: 'btrfs', key: 'x' }), grpcError(status.INVALID_ARGUMENT, /snapshotter not loaded: btrfs/));
  await assert.rejects(daemon.connect('').unary(SNAPSHOTS, 'Stat', { snapshotter: 'overlayfs', key: 'x' }), grpcError(status.FAILED_PRECONDITION, /namespace is required/));
  await assert.rejects(call('Stat', { key: 'nope' }), grpcError(status.NOT_FOUND, /snapshot nope does not exist: not found/));
  await assert.rejects(call('Prepare', { key: 'x', parent: 'nope' }), grpcError(status.NOT_FOUND, /parent snapshot nope does not exist/));

  await call('Prepare', { key: 'root-a' });
  await call('Commit', { key: 'root-a', name: 'root', labels: { layer: 'yes' } });
  await assert.rejects(call('Mounts', { key: 'root' }), grpcError(status.FAILED_PRECONDITION));
  const stat = await call<{ info: { name: string; kind: string; labels: Record<string, string>; created_at: { seconds: number } } }>('Stat', { key: 'root' });
  assert.equal(stat.info.kind, 'COMMITTED');
  assert.deepEqual(stat.info.labels, { layer: 'yes' });
  assert.ok(stat.info.created_at.seconds > 1_600_000_000);

  // rooted: 250 unreferenced snapshots would be collected (the mutation threshold is 100)
  const kept = { 'containerd.io/gc.root': 'test' };
  for (let i = 0; i < 249; i++) await call('Prepare', { key: `k${String(i).padStart(3, '0')}`, parent: 'root', labels: i % 2 ? { ...kept, odd: 'true' } : kept });
  const list = (filters: string[]) =>
    new Promise<{ info: { name: string; kind: string }[] }[]>((resolve, reject) => {
      const messages: { info: { name: string; kind: string }[] }[] = [];
      const stream = c.stream<{ info: { name: string; kind: string }[] }>(SNAPSHOTS, 'List', { snapshotter: 'overlayfs', filters });
      stream.on('data', (m) => messages.push(m));
      stream.on('error', reject);
      stream.on('end', () => resolve(messages));
    });
  const all = await list([]);
  assert.deepEqual(all.map((m) => m.info.length), [100, 100, 50]);
  assert.deepEqual(all.flatMap((m) => m.info.map((i) => i.name)).slice(0, 3), ['k000', 'k001', 'k002']);
  assert.deepEqual((await list(['kind==committed'])).flatMap((m) => m.info.map((i) => i.name)), ['root']);
  assert.equal((await list(['labels.odd==true'])).flatMap((m) => m.info).length, 124);
  assert.equal((await list(['parent==root,name~=^k00'])).flatMap((m) => m.info).length, 10);
  await assert.rejects(list(['kind==']), grpcError(status.INVALID_ARGUMENT));

  const usage = await call<{ size: number; inodes: number }>('Usage', { key: 'k000' });
  assert.ok(usage.size > 0 && usage.inodes === 1, JSON.stringify(usage));

  const updated = await call<{ info: { labels: Record<string, string> } }>('Update', { info: { name: 'root', labels: { extra: '1' } }, update_mask: { paths: ['labels.extra'] } });
  assert.deepEqual(updated.info.labels, { layer: 'yes', extra: '1' });
  await assert.rejects(call('Update', { info: { name: 'root' }, update_mask: { paths: ['kind'] } }), grpcError(status.INVALID_ARGUMENT, /cannot update "kind" field/));

  // the containerd-lease header: an unknown lease is NotFound; a real one is recorded on the event
  await assert.rejects(call('Prepare', { key: 'leased' }, { 'containerd-lease': 'nope' }), grpcError(status.NOT_FOUND, /lease does not exist/));
  await c.unary(LEASES, 'Create', { id: 'L1' });
  await call('Prepare', { key: 'leased' }, { 'containerd-lease': 'L1' });
  const log = execFileSync(process.execPath, [fileURLToPath(new URL('../../../bin/ledgerctl', import.meta.url)), '-a', daemon.address, 'log', 'show', '--filter', 'type==SnapshotPrepared'], { encoding: 'utf8' });
  const leased = log.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { payload: { key: string; lease?: string } }).find((r) => r.payload.key === 'leased');
  assert.equal(leased?.payload.lease, 'L1');

  // Cleanup (implemented, where containerd 1.6 answers Unimplemented): deletes what no snapshot owns
  const orphan = join(daemon.root, 'io.containerd.snapshotter.v1.overlayfs', 'snapshots', '99999');
  mkdirSync(join(orphan, 'fs'), { recursive: true });
  await call('Cleanup', {});
  assert.ok(!existsSync(orphan));
  assert.ok(existsSync(join(daemon.root, 'io.containerd.snapshotter.v1.overlayfs', 'snapshots', '1')));
});

test('snapshots survive a crash of the daemon: replayed from the log, still mountable', { skip: skipCtr }, async (t) => {
  const { daemon, dir } = await daemonWithMounts(t);
  const c = ctrIn(daemon.address, 'crash');
  c('snapshots', 'prepare', 'a');
  const target = join(dir, 'mnt');
  mkdirSync(target);
  runMount(c('snapshots', 'mounts', target, 'a').trim());
  writeFileSync(join(target, 'f'), 'survives');
  await unmountAll(target);
  c('snapshots', 'commit', 'A', 'a');
  c('snapshots', 'prepare', 'b', 'A');
  await daemon.kill();

  const again = await daemon.restart();
  const c2 = ctrIn(again.address, 'crash');
  assert.match(c2('snapshots', 'ls'), /^b\s+A\s+Active\s*$/m);
  runMount(c2('snapshots', 'mounts', target, 'b').trim());
  assert.equal(readFileSync(join(target, 'f'), 'utf8'), 'survives');
  await unmountAll(target);
  c2('snapshots', 'prepare', 'c');
  // ids continue after the replayed ones
  assert.match(c2('snapshots', 'mounts', target, 'c'), /snapshots\/3\/fs/);
});

test('the snapshot steps of shared/harness/ctr-conformance.sh pass', { skip: skipCtr || skipWithoutHarness }, async (t) => {
  const { daemon } = await daemonWithMounts(t);
  const { out, code } = await runHarness(daemon.address, '^snapshots\\.');
  assert.match(out, /^8 passed, 0 failed$/m, out);
  assert.equal(code, 0);
});
