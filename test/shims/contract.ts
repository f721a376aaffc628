// The shim v2 contract suite (as containerd's snapshots/testsuite is for snapshotters): any shim
// v2 binary, driven as root through the daemon's ShimRuntime with busybox containers on a
// bind-mounted rootfs. test/shims/runtime.test.ts runs it against Debian's
// containerd-shim-runc-v2 and ledgerd's own shim (started with `start`, and on warm shims).
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { decodeMessage } from '../../src/api/proto.js';
import { ShimRuntime } from '../../src/shims/runtime/shim-runtime.js';
import type { DeadTask, TimestampedShimEvent } from '../../src/shims/runtime/task-runtime.js';
import { Code } from '../../src/shims/wire/ttrpc/index.js';
import { busyboxRootfs, endRuntimes, ociSpec, until } from '../helpers/shim-bundle.js';

/** containerd's runc shim's runtime name. */
export const RUNC = 'io.containerd.runc.v2';

export interface ShimUnderTest {
  readonly name: string;
  readonly runtime: string;
  readonly binary: string;
  /** The directory its sockets are in, given the runtime's state directory. */
  socketDir(state: string): string;
  /** The runtime's warm_shims (ledgerd's own shim only). */
  readonly warmShims?: number;
}

const PROCESS_SPEC_TYPE_URL = 'types.containerd.io/opencontainers/runtime-spec/1/Process';
export const hasCode = (code: number, message?: RegExp) => (err: Error & { code?: unknown }) => err.code === code && (!message || message.test(err.message));

export interface Fixture {
  readonly dir: string;
  readonly rootfs: string;
  readonly namespace: string;
  readonly options: { root: string; state: string; address: string };
  open(): Promise<ShimRuntime & { events: TimestampedShimEvent[]; deaths: DeadTask[]; shimLog: string[] }>;
}

let counter = 0;

export async function fixture(t: TestContext, shim?: ShimUnderTest): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'ledgerd-shims-'));
  const rootfs = busyboxRootfs(join(dir, 'rootfs'));
  const namespace = `shims-${process.pid}-${++counter}`;
  const plugin = 'io.containerd.runtime.v2.task';
  const options = { root: join(dir, 'root', plugin), state: join(dir, 'state', plugin), address: join(dir, 'ledgerd.sock') };
  const runtimes: ShimRuntime[] = [];
  t.after(() => endRuntimes(runtimes, namespace, dir));
  return {
    dir,
    rootfs,
    namespace,
    options,
    async open() {
      const events: TimestampedShimEvent[] = [];
      const deaths: DeadTask[] = [];
      const shimLog: string[] = [];
      const runtime = await ShimRuntime.open({ ...options, warmShims: shim?.warmShims ?? 0, shimLog: (_ns, _id, text) => shimLog.push(text), warn: (m) => shimLog.push(m) });
      runtime.onEvent((e) => void events.push(e));
      runtime.onDeath((d) => deaths.push(d));
      runtimes.push(runtime);
      return Object.assign(runtime, { events, deaths, shimLog });
    },
  };
}

export function createTask(runtime: ShimRuntime, f: Fixture, shim: ShimUnderTest, id: string, args: string[], stdout = '') {
  return runtime.create({
    namespace: f.namespace,
    id,
    runtime: shim.runtime,
    runtimePath: shim.binary,
    spec: Buffer.from(JSON.stringify(ociSpec({ args, cgroupsPath: `/ledgerd-test/${f.namespace}-${id}` }))),
    rootfs: [{ type: 'bind', source: f.rootfs, options: ['rbind', 'rw'] }],
    stdin: '',
    stdout,
    stderr: stdout,
    terminal: false,
  });
}


const kinds = (events: TimestampedShimEvent[], id: string) => events.filter((e) => e.containerId === id).map((e) => e.kind);

/** The shim serving a container: the parent of its init process (the shim is its subreaper). */
export function shimPidOf(initPid: number): number {
  return Number(readFileSync(`/proc/${initPid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
}

/**
 * The contract any shim v2 binary is held to, through ShimRuntime (the daemon's side): lifecycle,
 * events, exec, pause/resume, stats, a killed shim's cleanup, and reconnecting after a restart.
 * `skip` says why the suite cannot run here (not root, no runc, no such binary).
 */
export function shimContract(shim: ShimUnderTest, skip: string | false): void {
  test(`${shim.name}: create, events, start, wait: exit code 7 and stdout captured; delete removes the bundle`, { skip }, async (t) => {
    const f = await fixture(t, shim);
    const runtime = await f.open();
    const out = join(f.dir, 'out.log');
    const task = await createTask(runtime, f, shim, 'c1', ['sh', '-c', 'echo hello from busybox; exit 7'], `file://${out}`);
    assert.ok(task.pid > 0);
    const bundle = join(f.options.state, f.namespace, 'c1');
    assert.equal(task.bundle, bundle);
    assert.equal(lstatSync(bundle).mode & 0o777, 0o700);
    assert.equal(readFileSync(join(bundle, 'shim-binary-path'), 'utf8'), shim.binary);
    assert.equal(readlinkSync(join(bundle, 'work')), join(f.options.root, f.namespace, 'c1'));
    const address = readFileSync(join(bundle, 'address'), 'utf8');
    assert.match(address, /^unix:\/\/\/.*\/[0-9a-f]{64}$/);
    assert.equal(dirname(address.slice('unix://'.length)), shim.socketDir(f.options.state));
    assert.ok(lstatSync(address.slice('unix://'.length)).isSocket());
    assert.deepEqual(JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')).process.args, ['sh', '-c', 'echo hello from busybox; exit 7']);
    assert.equal((await task.state()).status, 'created');
    assert.equal(runtime.get(f.namespace, 'c1'), task);
    assert.deepEqual(runtime.list(f.namespace), [task]);

    const exited = task.wait();
    const { pid } = await task.start();
    assert.equal(pid, task.pid);
    const exit = await exited;
    assert.equal(exit.exitStatus, 7);
    assert.equal(exit.pid, pid);
    assert.ok(exit.exitedAt > 0n);
    assert.equal(readFileSync(out, 'utf8'), 'hello from busybox\n');
    const state = await task.state();
    assert.deepEqual([state.status, state.exitStatus, state.id, state.stdout], ['stopped', 7, 'c1', `file://${out}`]);

    const deleted = await task.delete();
    assert.deepEqual([deleted.exitStatus, deleted.pid], [7, pid]);
    assert.equal(existsSync(bundle), false);
    assert.equal(existsSync(join(f.options.root, f.namespace, 'c1')), false);
    assert.equal(runtime.get(f.namespace, 'c1'), undefined);

    // the shim's Go ttrpc client forwarded these to the runtime's events server
    await until('the delete event', () => runtime.events.some((e) => e.kind === 'delete'));
    assert.deepEqual(kinds(runtime.events, 'c1'), ['create', 'start', 'exit', 'delete']);
    const [create, , exitEvent, del] = runtime.events;
    assert.ok(create!.kind === 'create' && create!.pid === pid && create!.bundle === bundle && create!.namespace === f.namespace);
    assert.deepEqual(create!.kind === 'create' && create!.rootfs, [{ type: 'bind', source: f.rootfs, options: ['rbind', 'rw'] }]);
    assert.ok(exitEvent!.kind === 'exit' && exitEvent!.exitStatus === 7 && exitEvent!.id === 'c1' && exitEvent!.exitedAt === exit.exitedAt);
    assert.ok(del!.kind === 'delete' && del!.exitStatus === 7 && del!.pid === pid);
    assert.ok(runtime.events.every((e) => e.timestamp > 0n));
    assert.deepEqual(runtime.deaths, []);
    // what the shim wrote to its log FIFO reached the daemon, line by line
    if (shim.runtime === RUNC) assert.ok(runtime.shimLog.some((line) => /level=info msg="starting signal loop"/.test(line) && !line.includes('\n')), runtime.shimLog.join('\n'));
  });

  test(`${shim.name}: exec and its exit, pids, pause/resume, stats, kill with SIGKILL: 137`, { skip }, async (t) => {
    const f = await fixture(t, shim);
    const runtime = await f.open();
    const task = await createTask(runtime, f, shim, 'c2', ['sleep', '1000']);
    const initExit = task.wait();
    await task.start();

    const execOut = join(f.dir, 'exec.log');
    const spec = (args: string[]) => ({ typeUrl: PROCESS_SPEC_TYPE_URL, value: Buffer.from(JSON.stringify(ociSpec({ args }).process)) });
    await task.exec({ execId: 'x1', spec: spec(['sh', '-c', 'echo from exec; exit 3']), stdin: '', stdout: `file://${execOut}`, stderr: `file://${execOut}`, terminal: false });
    assert.equal((await task.state('x1')).status, 'created');
    const x1Exit = task.wait('x1');
    const x1 = await task.start('x1');
    assert.ok(x1.pid > 0 && x1.pid !== task.pid);
    assert.equal((await x1Exit).exitStatus, 3);
    // a file:// destination is filled by the shim's copy, which may finish just after the exit is reported
    await until('the exec output in its file', () => readFileSync(execOut, 'utf8') === 'from exec\n', 2000).catch(() => {});
    assert.equal(readFileSync(execOut, 'utf8'), 'from exec\n');
    const x1State = await task.state('x1');
    assert.deepEqual([x1State.id, x1State.status, x1State.exitStatus], ['x1', 'stopped', 3]);
    assert.equal((await task.delete('x1')).exitStatus, 3);
    await assert.rejects(task.state('x1'), hasCode(Code.NotFound));

    await task.exec({ execId: 'x2', spec: spec(['sleep', '1000']), stdin: '', stdout: '', stderr: '', terminal: false });
    await assert.rejects(
      task.exec({ execId: 'x2', spec: spec(['true']), stdin: '', stdout: '', stderr: '', terminal: false }),
      hasCode(Code.AlreadyExists, /id x2: already exists/),
    );
    await assert.rejects(task.exec({ execId: 'bad id', spec: spec(['true']), stdin: '', stdout: '', stderr: '', terminal: false }), /exec id "bad id" must match/);
    const x2 = await task.start('x2');
    const pids = await task.pids();
    assert.deepEqual(pids.map((p) => p.pid).sort(), [task.pid, x2.pid].sort());
    const x2Info = pids.find((p) => p.pid === x2.pid)!.info!;
    assert.equal(x2Info.typeUrl, 'containerd.runc.v1.ProcessDetails');
    assert.equal(pids.find((p) => p.pid === task.pid)!.info, undefined);
    const x2Exit = task.wait('x2');
    await task.kill(9, { execId: 'x2' });
    assert.equal((await x2Exit).exitStatus, 137);
    await task.delete('x2');

    await task.pause();
    assert.equal((await task.state()).status, 'paused');
    await assert.rejects(task.pause(), /cannot pause a paused container/);
    await task.resume();
    assert.equal((await task.state()).status, 'running');

    const stats = await task.stats();
    assert.equal(stats?.typeUrl, 'io.containerd.cgroups.v1.Metrics');
    const metrics = decodeMessage('io.containerd.cgroups.v1.Metrics', stats!.value) as { pids: { current: number }; memory: { usage: { usage: number } } };
    assert.ok(metrics.pids.current >= 1, JSON.stringify(metrics.pids));
    assert.ok(metrics.memory.usage.usage > 0);

    await task.kill(9);
    const exit = await initExit;
    assert.equal(exit.exitStatus, 137);
    await assert.rejects(task.kill(9), hasCode(Code.NotFound, /^process already finished: not found$/));
    await task.delete();
    await until('the delete event', () => runtime.events.some((e) => e.kind === 'delete'));
    assert.deepEqual(kinds(runtime.events, 'c2'), [
      'create',
      'start',
      'exec-added',
      'exec-started',
      'exit',
      'exec-added',
      'exec-started',
      'exit',
      'paused',
      'resumed',
      'exit',
      'delete',
    ]);
    const execExits = runtime.events.filter((e) => e.kind === 'exit').map((e) => e.kind === 'exit' && [e.id, e.exitStatus]);
    assert.deepEqual(execExits, [
      ['x1', 3],
      ['x2', 137],
      ['c2', 137],
    ]);
  });

  test(`${shim.name}: a shim killed with SIGKILL: its cleanup runs, onDeath reports the task, a pending wait learns the exit, the bundle is gone`, { skip }, async (t) => {
    const f = await fixture(t, shim);
    const runtime = await f.open();
    const task = await createTask(runtime, f, shim, 'c3', ['sleep', '1000']);
    await task.start();
    const waiting = task.wait();
    const shimPid = shimPidOf(task.pid);
    assert.ok(readFileSync(`/proc/${shimPid}/cmdline`, 'utf8').includes(shim.binary.split('/').pop()!));
    process.kill(shimPid, 'SIGKILL');
    const dead = await until('onDeath', () => runtime.deaths[0]);
    assert.equal(dead.namespace, f.namespace);
    assert.equal(dead.id, 'c3');
    assert.ok([137, 255].includes(dead.exitStatus), `exit status ${dead.exitStatus}`);
    assert.equal(dead.exitStatus, 137, `the runc shim's delete action reports SIGKILL (${dead.reason})`);
    assert.equal(dead.pid, task.pid);
    assert.ok(dead.exitedAt > 0n);
    assert.match(dead.reason, /shim disconnected/);
    const exit = await waiting;
    assert.deepEqual([exit.exitStatus, exit.pid], [137, task.pid]);
    assert.equal(existsSync(task.bundle), false);
    assert.equal(runtime.get(f.namespace, 'c3'), undefined);
    await until('the container init to be gone', () => !existsSync(`/proc/${task.pid}/cmdline`) || readFileSync(`/proc/${task.pid}/stat`, 'utf8').includes(') Z'));
    await assert.rejects(task.state(), hasCode(Code.NotFound));
  });

  test(`${shim.name}: restart: a new runtime loads the live shim (still RUNNING), cleans up a dead one, empty bundles and stale work dirs`, { skip }, async (t) => {
    const f = await fixture(t, shim);
    const first = await f.open();
    const live = await createTask(first, f, shim, 'live', ['sleep', '1000']);
    await live.start();
    const doomed = await createTask(first, f, shim, 'doomed', ['sleep', '1000']);
    await doomed.start();
    const doomedShim = shimPidOf(doomed.pid);
    await first.close();
    const ttrpcSocket = `${f.options.address}.ttrpc`;
    assert.equal(existsSync(ttrpcSocket), false, 'the events socket is removed at close');
    assert.equal((await live.state().catch((e: Error) => e)) instanceof Error, true, 'the old runtime is disconnected');
    process.kill(doomedShim, 'SIGKILL'); // dies while no daemon is there to notice
    mkdirSync(join(f.options.state, f.namespace, 'empty'));
    mkdirSync(join(f.options.root, f.namespace, 'stale-work'), { recursive: true });
    mkdirSync(join(f.options.state, f.namespace, '.half-deleted', 'rootfs'), { recursive: true });

    const second = await f.open();
    const loaded = await second.load((ns) => (ns === f.namespace ? shim.runtime : undefined));
    assert.deepEqual(loaded.map((task) => task.id), ['live']);
    const task = loaded[0]!;
    assert.equal(second.get(f.namespace, 'live'), task);
    assert.equal(task.pid, live.pid);
    const state = await task.state();
    assert.deepEqual([state.status, state.pid], ['running', live.pid]);
    assert.deepEqual(
      second.deaths.map((d) => [d.id, d.exitStatus]),
      [['doomed', 137]],
    );
    assert.match(second.deaths[0]!.reason, /not reachable after restart/);
    for (const gone of [join(f.options.state, f.namespace, 'doomed'), join(f.options.state, f.namespace, 'empty'), join(f.options.root, f.namespace, 'stale-work'), join(f.options.root, f.namespace, 'doomed'), join(f.options.state, f.namespace, '.half-deleted')]) {
      assert.equal(existsSync(gone), false, gone);
    }
    assert.equal(existsSync(join(f.options.root, f.namespace, 'live')), true);

    // the shim's event publisher finds the new daemon's socket
    const exited = task.wait();
    await task.kill(9);
    assert.equal((await exited).exitStatus, 137);
    await until('the exit event at the new runtime', () => second.events.some((e) => e.kind === 'exit' && e.containerId === 'live'));
    await task.delete();
    assert.equal(existsSync(task.bundle), false);
  });
}
