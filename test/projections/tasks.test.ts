import { test } from 'node:test';
import assert from 'node:assert/strict';
import { taskStream } from '../../src/events/index.js';
import { taskOf, tasksIn, tasksProjection } from '../../src/projections/index.js';
import { recordMaker } from '../helpers/log-records.js';

const record = recordMaker((_namespace, payload) => taskStream(String(payload.containerId)));
const fold = (records: ReturnType<typeof record>[]) => records.reduce((s, r) => tasksProjection.evolve(s, r), tasksProjection.initial());
const io = { stdin: '', stdout: '/run/out', stderr: '/run/err', terminal: false };
const created = (ns: string, containerId: string, pid = 100) =>
  record(ns, 'TaskCreated', { containerId, bundle: `/run/${containerId}`, runtime: 'io.containerd.runc.v2', io, pid });

test('tasks read model: create, start, pause, resume, OOM and exit of the init process', () => {
  const state = fold([
    created('ns', 'c1'),
    record('ns', 'TaskStarted', { containerId: 'c1', pid: 101 }),
    record('ns', 'TaskPaused', { containerId: 'c1' }),
    record('ns', 'TaskResumed', { containerId: 'c1' }),
    record('ns', 'TaskOOM', { containerId: 'c1' }),
    record('ns', 'TaskOOM', { containerId: 'c1' }),
    record('ns', 'TaskExited', { containerId: 'c1', id: 'c1', pid: 101, exitStatus: 137, exitedAt: 5_000 }),
  ]);
  const task = taskOf(state, 'ns', 'c1')!;
  assert.deepEqual([task.bundle, task.runtime, task.io], ['/run/c1', 'io.containerd.runc.v2', io]);
  assert.deepEqual(task.init, { id: 'c1', pid: 101, status: 'stopped', exitStatus: 137, exitedAt: 5_000n });
  assert.equal(task.oomKills, 2);
  assert.deepEqual(state.versions, { 'ns/tasks/c1': 7 });
});

test('tasks read model: an exit recorded before the start stays the last word', () => {
  const state = fold([
    created('ns', 'quick'),
    record('ns', 'TaskExited', { containerId: 'quick', id: '', pid: 100, exitStatus: 0, exitedAt: 0 }),
    record('ns', 'TaskStarted', { containerId: 'quick', pid: 100 }),
  ]);
  assert.deepEqual(taskOf(state, 'ns', 'quick')!.init, { id: 'quick', pid: 100, status: 'stopped', exitStatus: 0, exitedAt: 0n });
});

test('tasks read model: execs are added, started, exited and deleted on their own', () => {
  const state = fold([
    created('ns', 'c1'),
    record('ns', 'TaskStarted', { containerId: 'c1', pid: 100 }),
    record('ns', 'TaskExecAdded', { containerId: 'c1', execId: 'e1' }),
    record('ns', 'TaskExecAdded', { containerId: 'c1', execId: 'e2' }),
    record('ns', 'TaskExecStarted', { containerId: 'c1', execId: 'e1', pid: 200 }),
    record('ns', 'TaskExited', { containerId: 'c1', id: 'e1', pid: 200, exitStatus: 3, exitedAt: 9_000 }),
    record('ns', 'TaskExecStarted', { containerId: 'c1', execId: 'e1', pid: 201 }),
    record('ns', 'TaskExecDeleted', { containerId: 'c1', execId: 'e2' }),
  ]);
  const task = taskOf(state, 'ns', 'c1')!;
  assert.deepEqual(task.execs, { e1: { id: 'e1', pid: 200, status: 'stopped', exitStatus: 3, exitedAt: 9_000n } }, 'a second start of an exited exec changes nothing');
  assert.equal(task.init.status, 'running', "an exec's exit is not the init's");
});

test('tasks read model: a deletion forgets the task and its version; events of unknown tasks are ignored; namespaces stay apart', () => {
  let state = fold([
    created('ns', 'b'),
    created('ns', 'a'),
    created('other', 'a'),
    record('ns', 'TaskStarted', { containerId: 'ghost', pid: 1 }),
  ]);
  assert.deepEqual(tasksIn(state, 'ns').map((t) => t.containerId), ['a', 'b'], 'sorted by container id');
  assert.equal(taskOf(state, 'ns', 'ghost'), undefined);
  state = tasksProjection.evolve(state, record('ns', 'TaskDeleted', { containerId: 'a', pid: 100, exitStatus: 0, exitedAt: 0 }));
  assert.deepEqual(tasksIn(state, 'ns').map((t) => t.containerId), ['b']);
  assert.equal(state.versions['ns/tasks/a'], undefined);
  assert.ok(taskOf(state, 'other', 'a'), "another namespace's task of the same id stays");
  state = tasksProjection.evolve(state, record('other', 'NamespaceDeleted', { name: 'other' }));
  assert.deepEqual(tasksIn(state, 'other'), []);
  assert.equal(tasksIn(state, 'ns').length, 1);
});
