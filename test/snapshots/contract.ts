// The snapshotter contract: one suite, run against every backend (overlayfs.test.ts, native.test.ts),
// as containerd's snapshots/testsuite is. It drives the Snapshotter over a real event log and
// really mounts what it returns.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, unlinkSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventLog } from '../../src/log/index.js';
import { ProjectionSet, snapshotsProjection } from '../../src/projections/index.js';
import { SnapshotCommands, type SnapshotHooks } from '../../src/commands/snapshots.js';
import type { SnapshotBackend, Snapshotter } from '../../src/snapshots/index.js';
import { mountPointsUnder, unmountAll, withTempMount, type Mount } from '../../src/util/mount/index.js';
import { until } from '../helpers/until.js';
import { LedgerError } from '../../src/util/errdefs.js';
import { isTopOfHierarchies } from '../../src/util/inode-flags.js';

export interface ContractTarget {
  /** The snapshotter's name: "overlayfs", "native". */
  readonly name: string;
  open(root: string): Promise<SnapshotBackend>;
}

export interface Harness {
  readonly dir: string;
  readonly root: string;
  readonly log: EventLog;
  readonly sn: Snapshotter;
  readonly commands: SnapshotCommands;
  /** Mounts, runs fn on the mount point, unmounts. */
  mounted<T>(mounts: Mount[], fn: (root: string) => T | Promise<T>): Promise<T>;
  /** Stops the read model and opens a fresh one on the same log and root (a daemon restart). */
  restart(): Promise<Harness>;
}

const NS = 'contract';

export const kind = (k: string, pattern?: RegExp) => (err: unknown) => {
  assert.ok(err instanceof LedgerError, `not a LedgerError: ${String(err)}`);
  assert.equal(err.kind, k, err.message);
  if (pattern) assert.match(err.message, pattern);
  return true;
};

/** A private directory with a log, a read model and one backend; everything mounted in it is unmounted at the end. */
export async function harness(t: TestContext, target: ContractTarget, hooks: SnapshotHooks = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), `ledgerd-${target.name}-`));
  const cleanups: (() => Promise<void>)[] = [];
  t.after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    for (const point of mountPointsUnder(dir)) await unmountAll(point);
    rmSync(dir, { recursive: true, force: true });
  });
  const root = join(dir, 'root', `io.containerd.snapshotter.v1.${target.name}`);
  const log = EventLog.open({ dir: join(dir, 'log') });
  cleanups.push(() => log.close());
  const open = async (): Promise<Harness> => {
    const projections = new ProjectionSet(log);
    const view = projections.add(snapshotsProjection);
    projections.start();
    cleanups.push(() => projections.stop());
    const backend = await target.open(root);
    const commands = new SnapshotCommands({ log, projections }, view, [backend], hooks);
    const mounts = join(dir, 'mnt');
    mkdirSync(mounts, { recursive: true });
    return {
      dir,
      root,
      log,
      commands,
      sn: commands.get(target.name),
      mounted: (m, fn) => withTempMount(m, async (point) => fn(point), mounts),
      async restart() {
        await projections.stop();
        return open();
      },
    };
  };
  return open();
}

const skip = process.getuid?.() === 0 ? false : 'mounting needs root';

/** Ids of the snapshots' directories, from the events. */
function idOf(log: EventLog, key: string): number {
  const record = [...log.read(1)].reverse().find((r) => (r.payload as { key?: string; name?: string }).key === key && r.type === 'SnapshotPrepared');
  assert.ok(record, `no SnapshotPrepared for ${key}`);
  return (record.payload as { id: number }).id;
}

export function snapshotterContract(target: ContractTarget): void {
  const it = (name: string, fn: (t: TestContext) => Promise<void>) => test(`${target.name}: ${name}`, { skip }, fn);

  it('prepare, write, commit; a child sees its parent and changes only itself', async (t) => {
    const h = await harness(t, target);
    const base = await h.sn.prepare(NS, 'base-active', '');
    await h.mounted(base, (root) => {
      writeFileSync(join(root, 'hello'), 'from base\n');
      mkdirSync(join(root, 'dir'));
      writeFileSync(join(root, 'dir', 'gone'), 'to be deleted\n');
    });
    assert.deepEqual(await h.sn.mounts(NS, 'base-active'), base, 'Mounts answers what Prepare answered');
    await h.sn.commit(NS, 'base', 'base-active');
    await assert.rejects(h.sn.stat(NS, 'base-active'), kind('not found', /snapshot base-active does not exist/));
    const info = await h.sn.stat(NS, 'base');
    assert.equal(info.kind, 'committed');
    assert.equal(info.parent, '');

    const child = await h.sn.prepare(NS, 'child', 'base');
    await h.mounted(child, (root) => {
      assert.equal(readFileSync(join(root, 'hello'), 'utf8'), 'from base\n');
      writeFileSync(join(root, 'hello'), 'from child\n');
      writeFileSync(join(root, 'new'), 'child only\n');
      unlinkSync(join(root, 'dir', 'gone'));
    });
    // the child's changes persist across mounts and never reach the parent
    await h.mounted(await h.sn.mounts(NS, 'child'), (root) => {
      assert.equal(readFileSync(join(root, 'hello'), 'utf8'), 'from child\n');
      assert.ok(!existsSync(join(root, 'dir', 'gone')));
    });
    await h.sn.view(NS, 'base-view', 'base');
    await h.mounted(await h.sn.mounts(NS, 'base-view'), (root) => {
      assert.equal(readFileSync(join(root, 'hello'), 'utf8'), 'from base\n');
      assert.ok(existsSync(join(root, 'dir', 'gone')));
      assert.ok(!existsSync(join(root, 'new')));
    });
  });

  it('the snapshots directory is marked as the top of directory hierarchies where the filesystem has the flag', async (t) => {
    const h = await harness(t, target);
    const snapshots = join(h.root, 'snapshots');
    const flag = isTopOfHierarchies(snapshots);
    if (flag === null) return t.skip(`${snapshots}: the filesystem has no inode flags`);
    assert.equal(flag, true);
  });

  it('three layers: the nearest layer wins, deletions hide lower files', async (t) => {
    const h = await harness(t, target);
    await h.mounted(await h.sn.prepare(NS, 'l1-a', ''), (root) => {
      writeFileSync(join(root, 'a'), '1');
      writeFileSync(join(root, 'b'), '1');
    });
    await h.sn.commit(NS, 'l1', 'l1-a');
    await h.mounted(await h.sn.prepare(NS, 'l2-a', 'l1'), (root) => {
      writeFileSync(join(root, 'a'), '2');
      unlinkSync(join(root, 'b'));
    });
    await h.sn.commit(NS, 'l2', 'l2-a');
    await h.mounted(await h.sn.prepare(NS, 'top', 'l2'), (root) => {
      assert.equal(readFileSync(join(root, 'a'), 'utf8'), '2');
      assert.ok(!existsSync(join(root, 'b')));
      writeFileSync(join(root, 'c'), '3');
    });
    await h.mounted(await h.sn.view(NS, 'l2-view', 'l2'), (root) => {
      assert.deepEqual(readdirSync(root).sort(), ['a']);
    });
    assert.deepEqual(
      (await h.sn.list(NS)).map((i) => [i.name, i.parent, i.kind]),
      [
        ['l1', '', 'committed'],
        ['l2', 'l1', 'committed'],
        ['l2-view', 'l2', 'view'],
        ['top', 'l2', 'active'],
      ],
    );
  });

  it('views are read-only; committed snapshots cannot be mounted; views cannot be committed', async (t) => {
    const h = await harness(t, target);
    await h.mounted(await h.sn.prepare(NS, 'w', ''), (root) => writeFileSync(join(root, 'f'), 'x'));
    await h.sn.commit(NS, 'c', 'w');
    const view = await h.sn.view(NS, 'v', 'c');
    await h.mounted(view, (root) => {
      assert.equal(readFileSync(join(root, 'f'), 'utf8'), 'x');
      assert.throws(() => writeFileSync(join(root, 'g'), 'y'), { code: 'EROFS' });
    });
    const empty = await h.sn.view(NS, 'empty-view', '');
    await h.mounted(empty, (root) => {
      assert.deepEqual(readdirSync(root), []);
      assert.throws(() => writeFileSync(join(root, 'g'), 'y'), { code: 'EROFS' });
    });
    await assert.rejects(h.sn.mounts(NS, 'c'), kind('failed precondition', /not active or view/));
    await assert.rejects(h.sn.commit(NS, 'v-committed', 'v'), kind('failed precondition', /is not active/));
    assert.deepEqual(await h.sn.usage(NS, 'v'), { size: 0, inodes: 0 });
  });

  it('containerd rules for keys, parents and names, with its error classes', async (t) => {
    const h = await harness(t, target);
    await h.sn.prepare(NS, 'a', '');
    await assert.rejects(h.sn.prepare(NS, 'a', ''), kind('already exists', /snapshot "a"/));
    await assert.rejects(h.sn.view(NS, 'a', ''), kind('already exists'));
    await assert.rejects(h.sn.prepare(NS, 'b', 'nope'), kind('not found', /parent snapshot nope does not exist/));
    await assert.rejects(h.sn.prepare(NS, 'b', 'a'), kind('invalid argument', /parent ".*\/a" is not committed snapshot/));
    await assert.rejects(h.sn.commit(NS, 'x', 'missing'), kind('not found', /snapshot missing does not exist/));
    await assert.rejects(h.sn.commit(NS, 'a', 'a'), kind('already exists', /snapshot "a"/));
    await h.sn.commit(NS, 'a-done', 'a');
    // a committed name and an active key share one namespace; the old key is free again
    await h.sn.prepare(NS, 'a', 'a-done');
    await assert.rejects(h.sn.prepare(NS, 'a-done', ''), kind('already exists'));
    // the same key in another namespace is another snapshot
    await h.sn.prepare('other', 'a', '');
    assert.deepEqual((await h.sn.list('other')).map((i) => i.name), ['a']);
    await assert.rejects(h.sn.stat('other', 'a-done'), kind('not found'));
    // keys are not identifiers: unpack keys have spaces and colons
    const unpackKey = 'extract-123-abc sha256:0123456789abcdef';
    await h.sn.prepare(NS, unpackKey, 'a-done');
    assert.equal((await h.sn.stat(NS, unpackKey)).parent, 'a-done');
    // a remote-snapshotter target that exists already
    await assert.rejects(
      h.sn.prepare(NS, 'c', '', { labels: { 'containerd.io/snapshot.ref': 'a-done' } }),
      kind('already exists', /target snapshot "a-done"/),
    );
    await assert.rejects(h.sn.prepare(NS, 'big', '', { labels: { k: 'v'.repeat(4096) } }), kind('invalid argument', /4096 bytes/));
  });

  it('remove: children first, NotFound for a missing key, the directory goes', async (t) => {
    const h = await harness(t, target);
    await h.sn.prepare(NS, 'p-a', '');
    await h.sn.commit(NS, 'p', 'p-a');
    await h.sn.prepare(NS, 'kid', 'p');
    await h.sn.view(NS, 'look', 'p');
    await assert.rejects(h.sn.remove(NS, 'p'), kind('failed precondition', /cannot remove snapshot with child/));
    await h.sn.remove(NS, 'kid');
    await assert.rejects(h.sn.remove(NS, 'p'), kind('failed precondition'));
    await h.sn.remove(NS, 'look');
    const id = idOf(h.log, 'p-a');
    assert.ok(existsSync(join(h.root, 'snapshots', String(id))));
    await h.sn.remove(NS, 'p');
    // deleted after the answer, as containerd leaves it to its collector
    await until('directory deleted', () => !existsSync(join(h.root, 'snapshots', String(id))));
    await assert.rejects(h.sn.remove(NS, 'p'), kind('not found', /snapshot p does not exist/));
    assert.deepEqual(await h.sn.list(NS), []);
    await until('every directory deleted', () => readdirSync(join(h.root, 'snapshots')).length === 0);
  });

  it('labels: prepare labels, commit labels replace them, update with and without masks', async (t) => {
    const h = await harness(t, target);
    await h.sn.prepare(NS, 'l', '', { labels: { a: '1', empty: '' } });
    assert.deepEqual((await h.sn.stat(NS, 'l')).labels, { a: '1' });
    await h.sn.commit(NS, 'lc', 'l', { labels: { b: '2' } });
    const committed = await h.sn.stat(NS, 'lc');
    assert.deepEqual(committed.labels, { b: '2' });
    let info = await h.sn.update(NS, { name: 'lc', labels: { c: '3', ignored: 'x' } }, ['labels.c']);
    assert.deepEqual(info.labels, { b: '2', c: '3' });
    assert.ok(info.updatedAt > committed.updatedAt);
    assert.equal(info.createdAt, committed.createdAt);
    info = await h.sn.update(NS, { name: 'lc', labels: {} }, ['labels.b']);
    assert.deepEqual(info.labels, { c: '3' });
    info = await h.sn.update(NS, { name: 'lc', labels: { only: 'this' } }, ['labels']);
    assert.deepEqual(info.labels, { only: 'this' });
    info = await h.sn.update(NS, { name: 'lc', labels: { x: 'y' } }, []);
    assert.deepEqual(info.labels, { x: 'y' });
    await assert.rejects(h.sn.update(NS, { name: 'lc', labels: {} }, ['parent']), kind('invalid argument', /cannot update "parent" field/));
    await assert.rejects(h.sn.update(NS, { name: 'nope', labels: {} }, []), kind('not found'));
    await assert.rejects(h.sn.update(NS, { name: '', labels: {} }, []), kind('invalid argument'));
    assert.deepEqual((await h.sn.list(NS, (i) => i.labels.x === 'y')).map((i) => i.name), ['lc']);
  });

  it('usage: measured live while active, recorded at commit', async (t) => {
    const h = await harness(t, target);
    const mounts = await h.sn.prepare(NS, 'u', '');
    const empty = await h.sn.usage(NS, 'u');
    assert.ok(empty.inodes >= 1 && empty.size > 0, JSON.stringify(empty));
    await h.mounted(mounts, (root) => {
      writeFileSync(join(root, 'blob'), Buffer.alloc(1 << 20, 7));
      mkdirSync(join(root, 'dir'));
      linkSync(join(root, 'blob'), join(root, 'dir', 'same-blob')); // one inode, counted once
    });
    const written = await h.sn.usage(NS, 'u');
    assert.ok(written.size >= empty.size + (1 << 20) && written.size < empty.size + 2 * (1 << 20), JSON.stringify(written));
    assert.equal(written.inodes, empty.inodes + 2);
    await h.sn.commit(NS, 'uc', 'u');
    assert.deepEqual(await h.sn.usage(NS, 'uc'), written);
    await assert.rejects(h.sn.usage(NS, 'u'), kind('not found'));
  });

  it('the state is the log: a restart replays it, and ids are never reused', async (t) => {
    const h = await harness(t, target);
    await h.mounted(await h.sn.prepare(NS, 'r1', ''), (root) => writeFileSync(join(root, 'f'), 'kept'));
    await h.sn.commit(NS, 'r', 'r1');
    await h.sn.prepare(NS, 'r2', 'r', { labels: { k: 'v' } });
    await h.sn.prepare(NS, 'r3', '');
    const before = await h.sn.list(NS);
    const highest = idOf(h.log, 'r3');
    await h.sn.remove(NS, 'r3');

    const again = await h.restart();
    assert.deepEqual(await again.sn.list(NS), before.filter((i) => i.name !== 'r3'));
    await again.mounted(await again.sn.mounts(NS, 'r2'), (root) => assert.equal(readFileSync(join(root, 'f'), 'utf8'), 'kept'));
    await again.sn.prepare(NS, 'r4', '');
    assert.ok(idOf(h.log, 'r4') > highest, 'a removed id is not handed out again');
    assert.deepEqual([...h.log.read(1)].map((r) => r.type), [
      'SnapshotPrepared', 'SnapshotCommitted', 'SnapshotPrepared', 'SnapshotPrepared', 'SnapshotRemoved', 'SnapshotPrepared',
    ]);
  });

  it('cleanup deletes directories without a live snapshot, and a taken id is skipped', async (t) => {
    const h = await harness(t, target);
    await h.sn.prepare(NS, 'keep', '');
    const kept = idOf(h.log, 'keep');
    const snapshots = join(h.root, 'snapshots');
    // what crashes leave: a built directory whose event never came, a half-built one, a half-removed one
    mkdirSync(join(snapshots, String(kept + 1), 'fs'), { recursive: true });
    mkdirSync(join(snapshots, 'new-123456'));
    mkdirSync(join(snapshots, 'rm-99'));
    await h.sn.prepare(NS, 'next', '');
    assert.equal(idOf(h.log, 'next'), kept + 2, 'the orphan directory\'s id is skipped');
    const removed = (await h.sn.cleanup()).map((p) => p.slice(snapshots.length + 1)).sort();
    assert.deepEqual(removed, [String(kept + 1), 'new-123456', 'rm-99']);
    assert.deepEqual(readdirSync(snapshots).sort(), [String(kept), String(kept + 2)].sort());
    assert.deepEqual(await h.sn.cleanup(), []);
  });

  it('concurrent writers queue: twenty children at once, and a parent never goes while a child is being made', async (t) => {
    const h = await harness(t, target);
    await h.sn.prepare(NS, 'base-a', '');
    await h.sn.commit(NS, 'base', 'base-a');
    const keys = Array.from({ length: 20 }, (_, i) => `kid-${i}`);
    await Promise.all(keys.map((key) => h.sn.prepare(NS, key, 'base')));
    const ids = new Set(keys.map((key) => idOf(h.log, key)));
    assert.equal(ids.size, 20);
    await Promise.all(keys.map((key) => h.sn.remove(NS, key)));

    for (let round = 0; round < 10; round++) {
      await h.sn.prepare(NS, `p${round}-a`, '');
      await h.sn.commit(NS, `p${round}`, `p${round}-a`);
      const [removal, prepare] = await Promise.allSettled([h.sn.remove(NS, `p${round}`), h.sn.prepare(NS, `c${round}`, `p${round}`)]);
      const parentThere = await h.sn.stat(NS, `p${round}`).then(() => true, () => false);
      const childThere = await h.sn.stat(NS, `c${round}`).then(() => true, () => false);
      assert.ok(!(childThere && !parentThere), `round ${round}: orphan child (${removal.status}, ${prepare.status})`);
      assert.ok(removal.status === 'fulfilled' || prepare.status === 'fulfilled');
    }
    // failed prepares left no directories behind
    const live = (await h.sn.list(NS)).length;
    await until('no directory but the live snapshots\'', () => readdirSync(join(h.root, 'snapshots')).length <= live);
  });

  it('the lease header: recorded on the events; an unknown lease is NotFound and changes nothing', async (t) => {
    const h = await harness(t, target, { leaseExists: (_ns, id) => id === 'held' });
    await h.sn.prepare(NS, 'leased', '', { lease: 'held' });
    await h.sn.commit(NS, 'leased-c', 'leased', { lease: 'held' });
    await assert.rejects(h.sn.prepare(NS, 'x', '', { lease: 'nope' }), kind('not found', /lease does not exist/));
    await assert.rejects(h.sn.commit(NS, 'y', 'x', { lease: 'nope' }), kind('not found'));
    const payloads = [...h.log.read(1)].map((r) => r.payload as { lease?: string });
    assert.deepEqual(payloads.map((p) => p.lease), ['held', 'held']);
    assert.deepEqual(readdirSync(join(h.root, 'snapshots')).length, 1);
  });

  it('snapshot trees keep the owner of the parent layer', async (t) => {
    const h = await harness(t, target);
    await h.mounted(await h.sn.prepare(NS, 'o', ''), (root) => writeFileSync(join(root, 'f'), ''));
    await h.sn.commit(NS, 'oc', 'o');
    const mounts = await h.sn.prepare(NS, 'o2', 'oc');
    await h.mounted(mounts, (root) => {
      const st = statSync(root);
      assert.equal(st.uid, 0);
      assert.ok(st.isDirectory());
    });
  });
}
