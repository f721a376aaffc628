// Task commands on a real log over a shim-like runtime (test/helpers/task-runtime.ts): the
// events the log records for each step, containerd's error codes and messages for every refusal
// (tasks-shim.md §1), nothing recorded on a refusal, dead shims, lost reports and restarts.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { EventLog, type LogRecord } from '../../src/log/index.js';
import { ProjectionSet, containersProjection, tasksProjection } from '../../src/projections/index.js';
import { ContainerCommands } from '../../src/commands/containers.js';
import { TaskCommands, type CreateTask } from '../../src/commands/tasks.js';
import { LedgerError, StatusError } from '../../src/util/errdefs.js';
import { tempDir } from '../helpers/tmp.js';
import { InMemoryTaskRuntime, type FakeRuntimeOptions } from '../helpers/task-runtime.js';

const SPEC = { typeUrl: 'types.containerd.io/opencontainers/runtime-spec/1/Spec', value: Buffer.from('{"ociVersion":"1.0.2","process":{"args":["sh"]}}') };
const RUNC_OPTIONS = { typeUrl: 'containerd.runc.v1.Options', value: Buffer.from([0x1a, 0x04, 0x72, 0x75, 0x6e, 0x63]) };
const PROCESS_SPEC = { typeUrl: 'types.containerd.io/opencontainers/runtime-spec/1/Process', value: Buffer.from('{"args":["true"]}') };

function setup(t: TestContext, options: FakeRuntimeOptions & { dir?: string } = {}) {
  const log = EventLog.open({ dir: options.dir ?? tempDir(t) });
  const projections = new ProjectionSet(log);
  const containersView = projections.add(containersProjection);
  const tasksView = projections.add(tasksProjection);
  projections.start();
  const runtime = new InMemoryTaskRuntime(options);
  const containers = new ContainerCommands({ log, projections }, containersView);
  const warnings: string[] = [];
  const tasks = new TaskCommands({ log, projections }, tasksView, containersView, runtime, {
    warn: (m) => warnings.push(m),
  });
  const close = async () => {
    tasks.close();
    await projections.stop();
    await log.close();
  };
  let closed = false;
  t.after(() => (closed ? undefined : close()));
  const taskEvents = (from = 0): LogRecord[] => [...log.read(from + 1)].filter((r) => r.type.startsWith('Task'));
  /** Every report the shim sent so far is delivered and recorded. */
  const settled = async () => {
    await runtime.delivered();
    await tasks.settled();
  };
  return {
    log,
    runtime,
    containers,
    tasks,
    warnings,
    taskEvents,
    settled,
    addContainer: (id: string, ns = 'ns') => containers.create(ns, { id, runtime: { name: 'io.containerd.runc.v2', options: RUNC_OPTIONS }, spec: SPEC }, {}),
    shutdown: async () => {
      closed = true;
      await close();
    },
  };
}

const create = (containerId: string, extra: Partial<CreateTask> = {}): CreateTask => ({
  containerId,
  rootfs: [{ type: 'overlay', source: 'overlay', options: ['lowerdir=/l', 'upperdir=/u', 'workdir=/w'] }],
  stdin: '',
  stdout: '/run/fifo/out',
  stderr: '/run/fifo/err',
  terminal: false,
  ...extra,
});

const status = (code: number, message: RegExp) => (err: unknown) => err instanceof StatusError && err.code === code && message.test(err.message);
const ledger = (kind: string, message: RegExp) => (err: unknown) => err instanceof LedgerError && err.kind === kind && message.test(err.message);
const Code = { Unknown: 2, InvalidArgument: 3, NotFound: 5, AlreadyExists: 6 };
const types = (records: LogRecord[]) => records.map((r) => r.type);

test('tasks: create, start, exit, wait, delete: the log records each step, from the shim\'s answers and reports', async (t) => {
  const { runtime, tasks, taskEvents, addContainer, settled } = setup(t);
  await addContainer('c1');
  const { pid } = await tasks.create('ns', create('c1'));
  const request = runtime.created[0]!;
  assert.deepEqual([request.runtime, Buffer.from(request.spec).toString(), request.options?.typeUrl], ['io.containerd.runc.v2', SPEC.value.toString(), RUNC_OPTIONS.typeUrl], 'spec, runtime and options come from the container');
  assert.equal(tasks.recorded.live.ns!.c1!.init.status, 'created', 'create answers once the log has the task');
  assert.equal((await tasks.state('ns', 'c1')).status, 'created');

  const waiting = tasks.wait('ns', 'c1');
  assert.equal((await tasks.start('ns', 'c1')).pid, pid);
  runtime.task('ns', 'c1').end(runtime.task('ns', 'c1').init, 7);
  const exit = await waiting;
  assert.equal(exit.exitStatus, 7);
  await settled();
  assert.deepEqual(await tasks.wait('ns', 'c1'), { pid, exitStatus: 7, exitedAt: exit.exitedAt }, 'a recorded exit answers Wait from the log');
  const deleted = await tasks.delete('ns', 'c1');
  assert.equal(deleted.exitStatus, 7);

  const events = taskEvents();
  assert.deepEqual(types(events), ['TaskCreated', 'TaskStarted', 'TaskExited', 'TaskDeleted']);
  const created = events[0]!.payload as { runtime: string; pid: number; bundle: string; io: { stdout: string }; rootfs: { type: string }[] };
  assert.deepEqual([created.runtime, created.pid, created.io.stdout, created.rootfs[0]!.type], ['io.containerd.runc.v2', pid, '/run/fifo/out', 'overlay']);
  assert.equal(events[0]!.stream, 'tasks/c1');
  assert.equal(events[0]!.meta.source, 'daemon', 'the Create command records the task from its shim\'s answer');
  assert.equal(events[2]!.meta.source, 'shim', 'exits come from the shim\'s report');
  assert.match(String(events[2]!.meta.shimTimestamp), /^\d+$/);
  assert.deepEqual(events[2]!.payload, { containerId: 'c1', id: 'c1', pid, exitStatus: 7, exitedAt: exit.exitedAt });
  assert.equal(tasks.recorded.live.ns?.c1, undefined, 'the deleted task is gone from the read model');
  assert.deepEqual(await tasks.list('ns'), []);
});

test('tasks: create options from the request win over the container runtime options; runtime_path overrides the shim', async (t) => {
  const { runtime, tasks, addContainer, settled } = setup(t);
  await addContainer('c1');
  const options = { typeUrl: 'containerd.runc.v1.Options', value: Buffer.from([0x08, 0x01]) };
  await tasks.create('ns', create('c1', { options, runtimePath: '/usr/bin/containerd-shim-runc-v2' }));
  assert.deepEqual(runtime.created[0]!.options, options);
  assert.equal(runtime.created[0]!.runtimePath, '/usr/bin/containerd-shim-runc-v2');
  assert.equal((tasks.recorded.live.ns!.c1! as { runtime: string }).runtime, '/usr/bin/containerd-shim-runc-v2');
});

test('tasks: every refusal of tasks-shim.md §1 with containerd code and message, and nothing recorded', async (t) => {
  const { log, runtime, tasks, addContainer, settled } = setup(t);
  await addContainer('c1');
  await addContainer('idle');
  const refused = async (call: () => Promise<unknown>, check: (err: unknown) => boolean, what: string) => {
    await settled();
    const head = log.head;
    await assert.rejects(call(), check, what);
    await settled();
    assert.equal(log.head, head, `${what}: nothing recorded`);
  };

  // no container, then no task: containerd's two NotFounds, for every call that names a task
  await refused(() => tasks.create('ns', create('ghost')), ledger('not found', /^container "ghost" in namespace "ns"$/), 'create without container');
  const noTask = status(Code.NotFound, /^task idle not found$/);
  const calls: [string, () => Promise<unknown>][] = [
    ['start', () => tasks.start('ns', 'idle')],
    ['delete', () => tasks.delete('ns', 'idle')],
    ['deleteProcess', () => tasks.deleteProcess('ns', 'idle', 'e1')],
    ['get', () => tasks.state('ns', 'idle')],
    ['kill', () => tasks.kill('ns', 'idle', 9, '', false)],
    ['exec', () => tasks.exec('ns', 'idle', { execId: 'e1', stdin: '', stdout: '', stderr: '', terminal: false, spec: PROCESS_SPEC })],
    ['resize', () => tasks.resizePty('ns', 'idle', '', 80, 24)],
    ['closeIO', () => tasks.closeIO('ns', 'idle', '', true)],
    ['pause', () => tasks.pause('ns', 'idle')],
    ['resume', () => tasks.resume('ns', 'idle')],
    ['pids', () => tasks.pids('ns', 'idle')],
    ['update', () => tasks.update('ns', 'idle', undefined, {})],
    ['wait', () => tasks.wait('ns', 'idle')],
    ['checkpoint', async () => tasks.checkpoint('ns', 'idle')],
  ];
  for (const [name, call] of calls) await refused(call, noTask, `${name} without a task`);
  await refused(() => tasks.start('ns', 'ghost'), ledger('not found', /^container "ghost" in namespace "ns"$/), 'start without container');

  await refused(() => tasks.create('ns', create('c1', { checkpoint: 'sha256:' + 'a'.repeat(64) })), ledger('not implemented', /restoring from a checkpoint/), 'create from a checkpoint');
  await tasks.create('ns', create('c1'));
  await refused(() => tasks.create('ns', create('c1')), ledger('already exists', /^task c1$/), 'second create');
  await refused(
    () => tasks.exec('ns', 'c1', { execId: 'e1', stdin: '', stdout: '', stderr: '', terminal: false, spec: PROCESS_SPEC }),
    status(Code.Unknown, /^cannot exec in a created state$/),
    'exec in a created task',
  );
  await refused(() => tasks.pause('ns', 'c1'), status(Code.Unknown, /^cannot pause task in created state$/), 'pause a created task');
  await tasks.start('ns', 'c1');
  await refused(() => tasks.start('ns', 'c1'), status(Code.Unknown, /^cannot start a running process$/), 'start a running task');
  await refused(() => tasks.delete('ns', 'c1'), status(Code.Unknown, /^failed to delete task: cannot delete a running process$/), 'delete a running task');
  await refused(() => tasks.resume('ns', 'c1'), status(Code.Unknown, /^cannot resume a running process$/), 'resume a running task');
  await refused(() => tasks.state('ns', 'c1', 'nope'), status(Code.NotFound, /^process does not exist nope: not found$/), 'get an unknown exec');
  await refused(() => tasks.kill('ns', 'c1', 9, 'nope', false), status(Code.NotFound, /^process does not exist nope/), 'kill an unknown exec');

  const exec = (execId: string) => ({ execId, stdin: '', stdout: '', stderr: '', terminal: false, spec: PROCESS_SPEC });
  await refused(() => tasks.exec('ns', 'c1', exec('')), status(Code.InvalidArgument, /^exec id cannot be empty$/), 'exec without id');
  await refused(() => tasks.exec('ns', 'c1', exec('bad id')), ledger('invalid argument', /^invalid exec id bad id: identifier "bad id" must match/), 'exec id not an identifier');
  await refused(() => tasks.exec('ns', 'c1', { ...exec('e9'), spec: undefined }), ledger('invalid argument', /spec must be set/), 'exec without spec');
  await tasks.exec('ns', 'c1', exec('x1'));
  await refused(() => tasks.exec('ns', 'c1', exec('x1')), status(Code.AlreadyExists, /^id x1: already exists$/), 'duplicate exec id');
  await refused(() => tasks.deleteProcess('ns', 'c1', ''), ledger('invalid argument', /^exec id cannot be empty/), 'deleteProcess without exec id');
  await refused(async () => tasks.checkpoint('ns', 'c1'), ledger('not implemented', /checkpoint of task c1/), 'checkpoint');

  await tasks.pause('ns', 'c1');
  await refused(() => tasks.pause('ns', 'c1'), status(Code.Unknown, /^cannot pause a paused container$/), 'pause a paused task');
  await refused(() => tasks.delete('ns', 'c1'), status(Code.Unknown, /^failed to delete task: cannot delete a paused process$/), 'delete a paused task');
  await tasks.resume('ns', 'c1');
  await tasks.kill('ns', 'c1', 9, '', false);
  await refused(() => tasks.kill('ns', 'c1', 9, '', false), status(Code.NotFound, /^process already finished: not found$/), 'kill an exited task');
  await refused(() => tasks.start('ns', 'c1'), status(Code.Unknown, /^cannot start a stopped process$/), 'start an exited task');
  assert.deepEqual(runtime.task('ns', 'c1').calls.filter((c) => c.startsWith('kill')), ['kill 9 nope', 'kill 9 ', 'kill 9 '], 'state refusals come from the shim');
});

test('tasks: exec processes, pause and resume, pids: recorded and listed', async (t) => {
  const { tasks, taskEvents, addContainer, runtime, settled } = setup(t);
  await addContainer('c1');
  await tasks.create('ns', create('c1'));
  await tasks.start('ns', 'c1');
  await tasks.exec('ns', 'c1', { execId: 'e1', stdin: '', stdout: '/o', stderr: '', terminal: true, spec: PROCESS_SPEC });
  const waiting = tasks.wait('ns', 'c1', 'e1');
  const { pid } = await tasks.start('ns', 'c1', 'e1');
  const state = await tasks.state('ns', 'c1', 'e1');
  assert.deepEqual([state.id, state.pid, state.status, state.terminal], ['e1', pid, 'running', true]);
  const pids = await tasks.pids('ns', 'c1');
  assert.equal(pids.length, 2);
  assert.equal(pids[1]!.info?.typeUrl, 'containerd.runc.v1.ProcessDetails');
  await tasks.resizePty('ns', 'c1', 'e1', 120, 40);
  await tasks.closeIO('ns', 'c1', 'e1', true);
  await tasks.closeIO('ns', 'c1', 'e1', false);
  assert.deepEqual(runtime.task('ns', 'c1').calls.filter((c) => /resize|closeio/.test(c)), ['resize 120x40 e1', 'closeio e1'], 'CloseIO without stdin does nothing');

  await tasks.kill('ns', 'c1', 15, 'e1', false);
  assert.equal((await waiting).exitStatus, 143);
  await settled();
  assert.equal(tasks.recorded.live.ns!.c1!.execs.e1!.status, 'stopped');
  const removed = await tasks.deleteProcess('ns', 'c1', 'e1');
  assert.equal(removed.exitStatus, 143);
  assert.equal(tasks.recorded.live.ns!.c1!.execs.e1, undefined, 'a deleted exec leaves the read model');

  await tasks.pause('ns', 'c1');
  await settled();
  assert.equal(tasks.recorded.live.ns!.c1!.init.status, 'paused');
  assert.deepEqual((await tasks.list('ns')).map((p) => [p.id, p.status]), [['c1', 'paused']]);
  await tasks.resume('ns', 'c1');
  await tasks.update('ns', 'c1', { typeUrl: 'types.containerd.io/opencontainers/runtime-spec/1/LinuxResources', value: Buffer.from('{}') }, { a: 'b' });
  await settled();
  assert.deepEqual(types(taskEvents()), ['TaskCreated', 'TaskStarted', 'TaskExecAdded', 'TaskExecStarted', 'TaskExited', 'TaskExecDeleted', 'TaskPaused', 'TaskResumed']);
  const execExit = taskEvents().find((r) => r.type === 'TaskExited')!.payload as { id: string; exitStatus: number };
  assert.deepEqual([execExit.id, execExit.exitStatus], ['e1', 143], "an exec's exit carries its exec id");
});

test('tasks: a shim that dies is recorded as exited and deleted, with the reason', async (t) => {
  const { runtime, tasks, taskEvents, addContainer, settled } = setup(t);
  await addContainer('c1');
  await tasks.create('ns', create('c1'));
  await tasks.start('ns', 'c1');
  runtime.crash('ns', 'c1');
  await settled();
  const events = taskEvents();
  assert.deepEqual(types(events), ['TaskCreated', 'TaskStarted', 'TaskExited', 'TaskDeleted']);
  assert.deepEqual([events[2]!.meta.source, events[2]!.meta.reason, (events[2]!.payload as { exitStatus: number }).exitStatus], ['daemon', 'shim disconnected', 137]);
  assert.equal(tasks.recorded.live.ns?.c1, undefined);
  await assert.rejects(tasks.state('ns', 'c1'), status(Code.NotFound, /^task c1 not found$/));
});

test('tasks: each fact is recorded once, before the command answers, whether the shim reports it or not', async (t) => {
  const lost = setup(t, { lose: ['create', 'start', 'delete'] });
  await lost.addContainer('c1');
  await lost.tasks.create('ns', create('c1'));
  assert.deepEqual(types(lost.taskEvents()), ['TaskCreated'], 'recorded when Create answers, no wait for a report');
  await lost.tasks.start('ns', 'c1');
  lost.runtime.task('ns', 'c1').end(lost.runtime.task('ns', 'c1').init, 0);
  await lost.settled();
  await lost.tasks.delete('ns', 'c1');
  assert.deepEqual(types(lost.taskEvents()), ['TaskCreated', 'TaskStarted', 'TaskExited', 'TaskDeleted']);
  assert.ok(lost.taskEvents().every((e) => e.meta.source === 'daemon' || e.type === 'TaskExited'));

  const late = setup(t, { eventDelayMs: 150 });
  await late.addContainer('c1');
  await late.tasks.create('ns', create('c1'));
  await late.tasks.start('ns', 'c1');
  late.runtime.task('ns', 'c1').end(late.runtime.task('ns', 'c1').init, 3);
  await late.tasks.delete('ns', 'c1');
  await late.settled();
  const events = late.taskEvents();
  assert.deepEqual(types(events), ['TaskCreated', 'TaskStarted', 'TaskExited', 'TaskDeleted'], 'the late reports are not recorded a second time');
  assert.equal((events[2]!.payload as { exitStatus: number }).exitStatus, 3, 'the exit comes from the delete result when its report is late');
});

test('tasks: an append that fails is the command\'s error: Create answers no pid, and its task goes with its shim', async (t) => {
  const { log, runtime, tasks, taskEvents, addContainer } = setup(t);
  await addContainer('c1');
  const append = log.append.bind(log);
  log.append = () => Promise.reject(new Error('MDB_MAP_FULL: Environment mapsize limit reached'));
  await assert.rejects(tasks.create('ns', create('c1')), /MDB_MAP_FULL/);
  assert.deepEqual(runtime.discarded, ['ns/c1']);
  assert.equal(runtime.get('ns', 'c1'), undefined);
  log.append = append;
  await tasks.create('ns', create('c1'));
  assert.deepEqual(types(taskEvents()), ['TaskCreated'], 'the id is free again');
});

test('tasks: concurrent creates of one task: one wins; a failed create leaves no task in the log', async (t) => {
  const { runtime, tasks, taskEvents, addContainer, settled } = setup(t);
  await addContainer('c1');
  const results = await Promise.allSettled([1, 2, 3].map(() => tasks.create('ns', create('c1'))));
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  assert.deepEqual(types(taskEvents()), ['TaskCreated']);

  await addContainer('c2');
  runtime.failCreate = Object.assign(new Error('OCI runtime create failed: exec: "nope": executable file not found in $PATH: unknown'), { code: 2 });
  await assert.rejects(tasks.create('ns', create('c2')), status(Code.Unknown, /OCI runtime create failed/));
  await settled();
  assert.equal(tasks.recorded.live.ns!.c2, undefined);
  assert.deepEqual(taskEvents().filter((e) => e.stream === 'tasks/c2'), [], 'the shim\'s /tasks/create report of a failed create records nothing');
});

test('tasks: after a restart, exits that happened meanwhile are recorded, lost shims closed, Wait answered from the log', async (t) => {
  const dir = tempDir(t);
  const first = setup(t, { dir });
  await first.addContainer('keep');
  await first.addContainer('gone');
  await first.addContainer('quiet');
  for (const id of ['keep', 'gone', 'quiet']) {
    await first.tasks.create('ns', create(id));
    await first.tasks.start('ns', id);
  }
  await first.tasks.exec('ns', 'keep', { execId: 'e1', stdin: '', stdout: '', stderr: '', terminal: false, spec: PROCESS_SPEC });
  await first.tasks.start('ns', 'keep', 'e1');
  await first.settled();
  const keep = first.runtime.task('ns', 'keep');
  const quiet = first.runtime.task('ns', 'quiet');
  await first.shutdown();

  // while the daemon is down: keep's exec ends, quiet's init ends, gone's shim disappears
  keep.end(keep.execs.get('e1')!, 3);
  quiet.end(quiet.init, 0);
  const second = setup(t, { dir });
  second.runtime.survivors = [keep, quiet];
  const lines = await second.tasks.reconcile();
  assert.deepEqual(lines.sort(), [
    'task ns/gone: no shim any more, recorded as exited and deleted',
    'task ns/keep: e1 exited with 3 while the daemon was down',
    'task ns/keep: shim reconnected',
    'task ns/quiet: c1 exited with 0 while the daemon was down'.replace('c1', 'quiet'),
    'task ns/quiet: shim reconnected',
  ]);
  const head = second.log.head;
  const recorded = [...second.log.read(head - 3)].map((r) => [r.type, r.stream, r.meta.reason]);
  assert.deepEqual(recorded, [
    ['TaskExited', 'tasks/keep', 'exited while the daemon was down'],
    ['TaskExited', 'tasks/quiet', 'exited while the daemon was down'],
    ['TaskExited', 'tasks/gone', 'shim gone after a restart'],
    ['TaskDeleted', 'tasks/gone', 'shim gone after a restart'],
  ]);
  assert.equal((await second.tasks.wait('ns', 'quiet')).exitStatus, 0);
  assert.equal((await second.tasks.wait('ns', 'keep', 'e1')).exitStatus, 3);
  assert.deepEqual((await second.tasks.list('ns')).map((p) => [p.id, p.status]), [['keep', 'running'], ['quiet', 'stopped']]);
  assert.equal(second.log.head, head, 'reading state and waiting recorded nothing');
});

test('tasks: every namespace with tasks is visited for metrics', async (t) => {
  const { tasks, addContainer, settled } = setup(t);
  await addContainer('a', 'one');
  await addContainer('b', 'two');
  await tasks.create('one', create('a'));
  await tasks.create('two', create('b'));
  assert.deepEqual(tasks.allTasks().map((task) => `${task.namespace}/${task.id}`), ['one/a', 'two/b']);
  const stats = await tasks.allTasks()[0]!.stats();
  assert.equal(stats?.typeUrl, 'io.containerd.cgroups.v1.Metrics');
});
