// issue 13, reproduction 2: the daemon is SIGKILLed while several `ctr run` are in flight. After a
// restart every task is either in the log and reachable, or gone with its shim, bundle and
// mounts; ids never acknowledged can be used again; no shim or runc child holds the daemon's files.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { ctrAt, hasCtr } from '../helpers/ctr.js';
import { buildImage, busyboxEntries, skipWithoutRegistry, startTestRegistry } from '../helpers/registry.js';
import { bundlesIn, descendantsOf, descriptorsUnder, idleShims, isAlive, killShimsOf, mountsUnder, ownShimConfig, parentOf, shimsOf, unixSocketsOf } from '../helpers/crash-checks.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';

const run = promisify(execFile);
const NS = 'crash';
const skip: string | false =
  !hasCtr ? 'ctr is not installed' : skipWithoutRegistry || (!existsSync('/usr/sbin/runc') && !existsSync('/usr/bin/runc') ? 'runc is not installed' : process.getuid?.() !== 0 && 'needs root');

/** A daemon running this checkout's shim, with busybox pulled from a private registry. */
async function daemonWithImage(t: TestContext): Promise<{ daemon: TestDaemon; image: string; dir: string }> {
  const dir = tempDir(t, 'ledgerd-crash-');
  const registry = await startTestRegistry(t);
  await registry.pushImage('busybox', 'latest', await buildImage([[...busyboxEntries(), { name: 'bin/sleep', type: 'symlink', linkname: 'busybox' }]]));
  const daemon = await startTestDaemon(t, { dir, args: ['-c', ownShimConfig(dir)] });
  const image = `${registry.host}/busybox:latest`;
  ctrAt(daemon.address, NS)('images', 'pull', '--plain-http', image);
  t.after(() => {
    // whatever a failed assertion left running: this test's shims, containers and mounts only
    killShimsOf(daemon.address);
    for (const point of mountsUnder(dir).reverse()) {
      try {
        execFileSync('umount', ['-l', point], { stdio: 'ignore' });
      } catch {
        // not mounted any more
      }
    }
  });
  return { daemon, image, dir };
}

const ctr = async (address: string, ...args: string[]): Promise<{ code: number; out: string }> => {
  try {
    const { stdout } = await run('ctr', ['--address', address, '-n', NS, ...args], { timeout: 60_000 });
    return { code: 0, out: stdout };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
};

/** `ctr tasks ls`: id -> status. */
async function tasks(address: string): Promise<Map<string, string>> {
  const listed = await ctr(address, 'tasks', 'ls');
  assert.equal(listed.code, 0, listed.out);
  return new Map(listed.out.split('\n').slice(1).filter(Boolean).map((line) => line.trim().split(/\s+/)).map(([id, , status]) => [id!, status!]));
}

test('SIGKILL while several ctr run are in flight: after a restart each task is reachable or gone with its shim, bundle and mounts, and its id can be used again', { skip, timeout: 240_000 }, async (t) => {
  const { daemon, image } = await daemonWithImage(t);
  const ids = Array.from({ length: 6 }, (_, i) => `inflight-${i}`);
  const runs = ids.map((id) => ctr(daemon.address, 'run', '-d', image, id, 'sleep', '600'));
  // the kill comes once some creates are under way in shims: their bundles exist
  await until('bundles being created', () => bundlesIn(daemon.state).length >= 2, 60_000);
  await daemon.kill();
  const answered = await Promise.all(runs);
  const acknowledged = ids.filter((_, i) => answered[i]!.code === 0);

  const again = await daemon.restart();
  const listed = await tasks(again.address);
  for (const id of acknowledged) assert.equal(listed.get(id), 'RUNNING', `${id} was acknowledged: ${[...listed]}`);
  // every task left is in the log too: Wait is answered from it after a restart
  for (const id of listed.keys()) assert.ok(ids.includes(id));

  // no shim of the old daemon lingers without a task; none holds the log
  await until('shims without a task gone', () => idleShims(again.address, again.process.pid, again.state, NS, listed.keys()).length === 0, 45_000);
  const everyChild = [...shimsOf(again.address), ...descendantsOf(shimsOf(again.address))];
  for (const pid of everyChild) assert.deepEqual(descriptorsUnder(pid, again.root), [], `process ${pid} holds files of the daemon's root`);
  assert.deepEqual(bundlesIn(again.state).sort(), [...listed.keys()].map((id) => `${NS}/${id}`).sort(), 'a bundle per task, no other');
  assert.deepEqual(mountsUnder(again.state).filter((point) => ![...listed.keys()].some((id) => point.includes(`/${NS}/${id}/`))), [], 'no mount but the tasks\' rootfs');

  // ids never acknowledged can be used again
  const containers = (await ctr(again.address, 'containers', 'ls', '-q')).out.split('\n').filter(Boolean);
  for (const id of ids.filter((id) => !listed.has(id))) {
    const started = containers.includes(id) ? await ctr(again.address, 'tasks', 'start', '-d', id) : await ctr(again.address, 'run', '-d', image, `${id}-again`, 'sleep', '600');
    assert.equal(started.code, 0, `${id}: ${started.out}`);
  }
  const now = await tasks(again.address);
  for (const id of now.keys()) {
    assert.equal((await ctr(again.address, 'tasks', 'kill', '-s', 'SIGKILL', id)).code, 0);
    let deleted = await ctr(again.address, 'tasks', 'delete', id);
    for (let i = 0; i < 100 && deleted.code !== 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      deleted = await ctr(again.address, 'tasks', 'delete', id);
    }
    assert.equal(deleted.code, 0, deleted.out);
  }
  await until('every shim of the old daemon gone', () => shimsOf(again.address).every((pid) => parentOf(pid) === again.process.pid || !isAlive(pid)) || undefined, 15_000);
});

test('a task stopped before the crash keeps its shim: after a restart it is listed STOPPED, its shim counts as serving it, and deleting it ends the shim', { skip, timeout: 120_000 }, async (t) => {
  const { daemon, image } = await daemonWithImage(t);
  assert.equal((await ctr(daemon.address, 'run', '-d', image, 'stopped', 'sleep', '600')).code, 0);
  assert.equal((await ctr(daemon.address, 'tasks', 'kill', '-s', 'SIGKILL', 'stopped')).code, 0);
  await until('the task stopped', async () => (await tasks(daemon.address)).get('stopped') === 'STOPPED', 30_000);
  const socket = readFileSync(join(daemon.state, 'io.containerd.runtime.v2.task', NS, 'stopped', 'address'), 'utf8').trim().replace(/^unix:\/\//, '');
  const [shim] = shimsOf(daemon.address).filter((pid) => unixSocketsOf(pid).has(socket));
  assert.ok(shim, 'the shim listening on the bundle\'s address');
  assert.deepEqual(descendantsOf([shim]), [], 'nothing runs under a stopped task\'s shim');

  await daemon.kill();
  const again = await daemon.restart();
  assert.equal((await tasks(again.address)).get('stopped'), 'STOPPED');
  assert.ok(isAlive(shim), 'the shim waits for its task\'s Delete');
  assert.deepEqual(idleShims(again.address, again.process.pid, again.state, NS, ['stopped']), [], 'it serves the listed task');
  assert.deepEqual(idleShims(again.address, again.process.pid, again.state, NS, []), [shim], 'without that task it would be idle');
  assert.equal((await ctr(again.address, 'tasks', 'delete', 'stopped')).code, 0);
  await until('the shim ended', () => !isAlive(shim), 15_000);
});
