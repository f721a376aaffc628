import { test } from 'node:test';
import assert from 'node:assert/strict';
import { criContainerStream, taskStream } from '../../src/events/index.js';
import { criContainerState, criContainersProjection } from '../../src/projections/index.js';
import { recordMaker } from '../helpers/log-records.js';

// CRI container events are on the container's stream; start, exit and OOM are the task's
const record = recordMaker((_namespace, payload) => ('containerId' in payload ? taskStream(String(payload.containerId)) : criContainerStream(String(payload.id))));
const fold = (records: ReturnType<typeof record>[]) => records.reduce((s, r) => criContainersProjection.evolve(s, r), criContainersProjection.initial());
const created = (id: string) =>
  record('k8s.io', 'CriContainerCreated', {
    id,
    podId: 'p1',
    metadata: { name: `name-${id}`, attempt: 0 },
    config: { image: { image: 'busybox' } },
    imageId: `sha256:${'c'.repeat(64)}`,
    imageRef: 'busybox:latest',
    logPath: `/var/log/pods/p1/${id}.log`,
  });
const started = (containerId: string, pid: number) => record('k8s.io', 'TaskStarted', { containerId, pid });
const exited = (containerId: string, id: string, exitStatus: number, exitedAt: number) => record('k8s.io', 'TaskExited', { containerId, id, pid: 7, exitStatus, exitedAt });

test('CRI containers read model: created, running from the task\'s start, exited with its status and time', () => {
  const c = (records: ReturnType<typeof record>[]) => fold(records).live['k8s.io']!.c1!;
  assert.equal(criContainerState(c([created('c1')])), 'CONTAINER_CREATED');
  const create = created('c1');
  const start = started('c1', 7);
  const running = c([create, start]);
  assert.deepEqual([criContainerState(running), running.startedAt, running.pid], ['CONTAINER_RUNNING', start.time, 7]);
  const done = c([create, start, exited('c1', 'c1', 3, 5_000_000)]);
  assert.deepEqual([criContainerState(done), done.finishedAt, done.exitCode, done.oomKilled], ['CONTAINER_EXITED', 5_000_000n, 3, false]);
  assert.deepEqual([done.podId, done.metadata, done.imageRef, done.logPath, done.createdAt], ['p1', { name: 'name-c1', attempt: 0 }, 'busybox:latest', '/var/log/pods/p1/c1.log', create.time]);
});

test('CRI containers read model: the first start and the first exit of the init process count; exec exits do not', () => {
  const firstExit = exited('c1', 'c1', 0, 0);
  const state = fold([created('c1'), started('c1', 7), started('c1', 8), exited('c1', 'exec-1', 1, 3_000), firstExit, exited('c1', 'c1', 9, 9_000)]);
  const c = state.live['k8s.io']!.c1!;
  assert.equal(c.pid, 7);
  assert.equal(c.exitCode, 0);
  assert.equal(c.finishedAt, firstExit.time, 'an exit without a time takes its record\'s');
});

test('CRI containers read model: an OOM kill is remembered; removal forgets the container and its version', () => {
  const create = created('c1');
  const state = fold([create, created('c2'), started('c1', 7), record('k8s.io', 'TaskOOM', { containerId: 'c1' }), exited('c1', 'c1', 137, 4_000), record('k8s.io', 'CriContainerRemoved', { id: 'c2' })]);
  assert.equal(state.live['k8s.io']!.c1!.oomKilled, true);
  assert.equal(state.live['k8s.io']!.c2, undefined);
  assert.deepEqual(state.versions, { 'k8s.io/cri-containers/c1': create.version }, 'keyed as the log keys streams');
});

test('CRI containers read model: task events of containers that are not the CRI\'s change nothing', () => {
  const state = fold([started('plain', 1), exited('plain', 'plain', 0, 1), record('k8s.io', 'TaskOOM', { containerId: 'plain' })]);
  assert.deepEqual(state.live, {});
});
