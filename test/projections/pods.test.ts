import { test } from 'node:test';
import assert from 'node:assert/strict';
import { podStream, taskStream } from '../../src/events/index.js';
import { podOf, podsIn, podsProjection } from '../../src/projections/index.js';
import { recordMaker } from '../helpers/log-records.js';

// pod events are on the pod's stream; the pause task's exit is on the task's
const record = recordMaker((_namespace, payload) => ('containerId' in payload ? taskStream(String(payload.containerId)) : podStream(String(payload.id))));
const fold = (records: ReturnType<typeof record>[]) => records.reduce((s, r) => podsProjection.evolve(s, r), podsProjection.initial());
const created = (id: string, name = id) =>
  record('k8s.io', 'PodSandboxCreated', {
    id,
    metadata: { name, uid: `uid-${id}`, namespace: 'default', attempt: 0 },
    config: { hostname: name },
    runtimeHandler: '',
    netnsPath: `/var/run/netns/cni-${id}`,
    ips: ['10.88.0.2'],
    cniResults: [],
    pid: 42,
  });
const exited = (containerId: string, id = containerId) => record('k8s.io', 'TaskExited', { containerId, id, pid: 42, exitStatus: 0, exitedAt: 9_000 });

test('pods read model: created ready, stopped not ready, removed gone; a removed pod leaves no version behind', () => {
  const create = created('p1', 'web');
  const stop = record('k8s.io', 'PodSandboxStopped', { id: 'p1' });
  const state = fold([create, created('p2', 'db'), stop, record('k8s.io', 'PodSandboxRemoved', { id: 'p2' })]);
  const p1 = podOf(state, 'k8s.io', 'p1')!;
  assert.deepEqual([p1.metadata.name, p1.netnsPath, p1.ips, p1.createdAt], ['web', '/var/run/netns/cni-p1', ['10.88.0.2'], create.time]);
  assert.deepEqual([p1.state, p1.stopped], ['SANDBOX_NOTREADY', true]);
  assert.equal(podOf(state, 'k8s.io', 'p2'), undefined);
  assert.deepEqual(podsIn(state, 'k8s.io').map((p) => p.id), ['p1']);
  assert.deepEqual(podsIn(state, 'other'), []);
  assert.deepEqual(state.versions, { 'k8s.io/pods/p1': stop.version }, 'keyed as the log keys streams; a removed pod\'s version is the log\'s');
});

test('pods read model: the pause task\'s exit makes a pod not ready without stopping it; an exec\'s exit or another container\'s does not', () => {
  const running = fold([created('p1'), exited('p1', 'exec-1'), exited('other-container')]);
  assert.equal(podOf(running, 'k8s.io', 'p1')!.state, 'SANDBOX_READY');
  const exitedPod = fold([created('p1'), exited('p1')]);
  assert.deepEqual([podOf(exitedPod, 'k8s.io', 'p1')!.state, podOf(exitedPod, 'k8s.io', 'p1')!.stopped], ['SANDBOX_NOTREADY', false]);
});

test('pods read model: events of pods it never saw change nothing', () => {
  const state = fold([record('k8s.io', 'PodSandboxStopped', { id: 'ghost' }), exited('ghost')]);
  assert.deepEqual(state.live, {});
});
