/**
 * ledgerd's warm shims (src/shims/runtime/warm-shims.ts), as root with runc and busybox: tasks of
 * ledgerd's own shim are served by shims booted ahead, a shim whose task is gone serves the next
 * one, a group shares one shim (and outlives the bundle of its first container), tasks of a
 * namespace are packed into one shim up to tasksPerShim, idle shims go when the runtime closes
 * while assigned ones keep their containers, and a reset connection at the reload is retried.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, renameSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { PROCESS_TYPE_URL } from '../../src/client/run/oci-spec.js';
import { ShimRuntime, WARM_SHIMS_STDERR } from '../../src/shims/runtime/shim-runtime.js';
import type { DeadTask, RuntimeTask } from '../../src/shims/runtime/task-runtime.js';
import { shimSocketPath } from '../../src/shims/runtime/shim-binary.js';
import { busyboxRootfs, endRuntimes, ociSpec, skipWithoutRunc, until } from '../helpers/shim-bundle.js';
import { SHIM_BINARY } from '../helpers/own-shim.js';

const skip = process.getuid?.() !== 0 ? 'needs root' : skipWithoutRunc;
const PLUGIN = 'io.containerd.runtime.v2.task';
let counter = 0;

const parentOf = (pid: number) => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
const alive = (pid: number) => existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z');
/** ledgerd's idle warm shims: children of this process running `containerd-shim-ledger-v1 warm`. */
const warmChildren = () =>
  readFileSync('/proc/self/task/' + process.pid + '/children', 'utf8')
    .split(' ')
    .filter(Boolean)
    .map(Number)
    .filter((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('warm'));


async function setup(t: TestContext, tasksPerShim = 1) {
  const dir = mkdtempSync(join(tmpdir(), 'ledgerd-warm-'));
  const rootfs = busyboxRootfs(join(dir, 'rootfs'));
  const namespace = `warm-${process.pid}-${++counter}`;
  const options = { root: join(dir, 'root', PLUGIN), state: join(dir, 'state', PLUGIN), address: join(dir, 'ledgerd.sock') };
  const warnings: string[] = [];
  const open = () => ShimRuntime.open({ ...options, warmShims: 1, tasksPerShim, shimLog: () => {}, warn: (m) => warnings.push(m) });
  const runtimes = [await open()];
  const runtime = runtimes[0]!;
  t.after(() => endRuntimes(runtimes, namespace, dir));
  const create = (id: string, args: string[], annotations: Record<string, string> = {}) =>
    runtime.create({
      namespace,
      id,
      runtime: 'io.containerd.runc.v2',
      runtimePath: SHIM_BINARY,
      spec: Buffer.from(JSON.stringify(ociSpec({ args, cgroupsPath: `/ledgerd-test/${namespace}-${id}`, annotations }))),
      rootfs: [{ type: 'bind', source: rootfs, options: ['rbind', 'rw'] }],
      stdin: '',
      stdout: '',
      stderr: '',
      terminal: false,
    });
  const finish = async (task: RuntimeTask) => {
    const exited = task.wait();
    await task.kill(9);
    await exited;
    await task.delete();
  };
  /** A second runtime on the same directories, as after a daemon restart. */
  const deaths: DeadTask[] = [];
  const reopen = async () => {
    const next = await open();
    runtimes.push(next);
    next.onDeath((dead) => deaths.push(dead));
    await next.load(() => 'io.containerd.runc.v2');
    return next;
  };
  return { runtime, create, finish, reopen, warnings, deaths, namespace, options };
}

test('a task runs on a warm shim; once deleted, its shim serves the next task', { skip, timeout: 60_000 }, async (t) => {
  const { create, finish, warnings } = await setup(t);
  const first = await create('w1', ['sleep', '1000']);
  await first.start();
  const shim = parentOf(first.pid);
  assert.ok(readFileSync(`/proc/${shim}/cmdline`, 'utf8').split('\0').includes('warm'), 'served by a warm shim');
  assert.equal(parentOf(shim), process.pid, 'the warm shim is the runtime\'s child');
  await finish(first);
  assert.ok(alive(shim), 'the shim stays for the next task');

  // it announces itself free once its socket is gone; the next task may take it
  await until('the shim to be idle again', () => warmChildren().includes(shim));
  const second = await create('w2', ['sleep', '1000']);
  await second.start();
  assert.equal(parentOf(second.pid), shim, 'the same shim process serves the second task');
  await finish(second);
  assert.deepEqual(warnings, []);
});

test('containers of one group share a shim, which outlives the bundle of the first one', { skip, timeout: 60_000 }, async (t) => {
  const { create, finish } = await setup(t);
  const group = { 'io.containerd.runc.v2.group': 'pod' };
  const a = await create('g1', ['sleep', '1000'], group);
  await a.start();
  const b = await create('g2', ['sleep', '1000'], group);
  await b.start();
  assert.equal(parentOf(a.pid), parentOf(b.pid), 'one shim for the group');
  await finish(a); // its bundle, the shim's working directory, is gone now
  const state = await b.state();
  assert.equal(state.status, 'running');
  await finish(b);
  assert.equal(existsSync(b.bundle), false);
});

test('tasks of a namespace are packed into one shim up to tasksPerShim; grouped ones are not; the shim outlives its first container', { skip, timeout: 90_000 }, async (t) => {
  const { create, finish, warnings } = await setup(t, 2);
  const start = async (id: string, annotations?: Record<string, string>) => {
    const task = await create(id, ['sleep', '1000'], annotations);
    await task.start();
    return { task, shim: parentOf(task.pid) };
  };
  // two at once: both are served, by one shim
  const [a, b] = await Promise.all([start('p1'), start('p2')]);
  assert.equal(a.shim, b.shim, 'the second task joined the first one\'s shim');
  const c = await start('p3');
  assert.notEqual(c.shim, a.shim, 'a full shim takes no more');
  const grouped = await start('p4', { 'io.containerd.runc.v2.group': 'pod' });
  assert.ok(![a.shim, c.shim].includes(grouped.shim), 'a grouped container gets its group\'s shim');

  await finish(a.task); // the shim's working directory, the first bundle, is gone
  assert.equal((await b.task.state()).status, 'running');
  const d = await start('p5');
  assert.ok([a.shim, c.shim].includes(d.shim), 'a shim with room takes the next task');
  // the packed task is served fully: an exec in it
  const process = { typeUrl: PROCESS_TYPE_URL, value: Buffer.from(JSON.stringify(ociSpec({ args: ['sh', '-c', 'exit 3'] }).process)) };
  await b.task.exec({ execId: 'e1', spec: process, stdin: '', stdout: '', stderr: '', terminal: false });
  const exited = b.task.wait('e1');
  await b.task.start('e1');
  assert.equal((await exited).exitStatus, 3);
  await b.task.delete('e1');

  for (const task of [b.task, c.task, d.task, grouped.task]) await finish(task);
  await until('the packed shims to be idle again', () => warmChildren().includes(a.shim) && warmChildren().includes(c.shim));
  assert.deepEqual(warnings, []);
});

test('warm shims write their stderr to warm-shims.stderr in the daemon\'s state directory', { skip, timeout: 60_000 }, async (t) => {
  const { options } = await setup(t);
  const file = join(dirname(options.state), WARM_SHIMS_STDERR);
  const stderrOf = (pid: number) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/2`);
    } catch {
      return undefined; // gone meanwhile
    }
  };
  // earlier tests' shims may still be about: this runtime's one writes to this runtime's file
  await until('a warm shim whose stderr is the file', () => warmChildren().some((pid) => stderrOf(pid) === file), 30_000);
});

test('closing the runtime: idle warm shims exit, an assigned one keeps its container', { skip, timeout: 60_000 }, async (t) => {
  const { runtime, create, finish, reopen, namespace } = await setup(t);
  const task = await create('c1', ['sleep', '1000']);
  await task.start();
  const shim = parentOf(task.pid);
  // the pool boots a new idle shim once this one is taken: a node start, seconds on a busy machine
  const idle = await until('an idle warm shim', () => warmChildren().filter((pid) => pid !== shim)[0], 30_000);
  await runtime.close();
  await until('the idle shim to exit', () => !alive(idle));
  await sleep(200);
  assert.ok(alive(shim) && alive(task.pid), 'the assigned shim and its container carry on');

  // a new runtime loads it as after a daemon restart; without the old channel the shim exits after its task
  const loaded = (await reopen()).get(namespace, 'c1');
  assert.ok(loaded, 'the task is loaded again');
  assert.equal((await loaded.state()).status, 'running');
  await finish(loaded);
  await until('the shim to exit after its last task', () => !alive(shim));
});

test('after a restart, a reset of the first connection to a packed shim is retried: every task of the shim is loaded, none is taken for dead', { skip, timeout: 90_000 }, async (t) => {
  const { runtime, create, finish, reopen, namespace, warnings, deaths, options } = await setup(t, 4);
  const tasks = await Promise.all(
    ['r1', 'r2', 'r3'].map(async (id) => {
      const task = await create(id, ['sleep', '1000']);
      await task.start();
      return task;
    }),
  );
  const shim = parentOf(tasks[0]!.pid);
  assert.ok(tasks.every((task) => parentOf(task.pid) === shim), 'the three tasks share one warm shim');
  await runtime.close();

  // the shim's listener stands aside; in its place one that resets the first connection (as a shim
  // busy at the reconnect did under load), then gives the path back to the shim
  const socket = shimSocketPath(readFileSync(join(options.state, namespace, 'r1', 'address'), 'utf8'));
  renameSync(socket, `${socket}.aside`);
  let resets = 0;
  const resetter = createServer((connection) => {
    connection.once('data', () => {
      resets++;
      resetter.close(); // unlinks the path at once (its callback waits for this connection)
      renameSync(`${socket}.aside`, socket);
      connection.destroy();
    });
  });
  await new Promise<void>((resolve) => resetter.listen(socket, resolve));

  const next = await reopen();
  assert.equal(resets, 1, 'the first connection was reset');
  assert.deepEqual(deaths, [], 'no task reported dead');
  for (const [i, id] of ['r1', 'r2', 'r3'].entries()) {
    const loaded = next.get(namespace, id);
    assert.ok(loaded, `${id} is loaded again`);
    assert.equal((await loaded.state()).status, 'running', `${id} still runs`);
    assert.equal(loaded.pid, tasks[i]!.pid);
  }
  assert.ok(warnings.some((w) => /reconnecting to its shim \(attempt 1\)/.test(w)), 'the retry is told');
  for (const id of ['r1', 'r2', 'r3']) await finish(next.get(namespace, id)!);
  await until('the shim to exit after its last task', () => !alive(shim));
});
