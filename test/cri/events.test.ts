// GetContainerEvents (evented PLEG): a tail of the log, so every container's created, started,
// stopped and deleted events arrive in order, each with the pod's and its containers' statuses,
// also for a client that read nothing for a while; a stream resumes at the position another began at.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { Connection } from '../../src/cli/grpc-client.js';
import { RUNTIME } from '../helpers/cri.js';
import { criTestbed, podConfig, skipCri } from '../helpers/cri-testbed.js';
import { until } from '../helpers/until.js';

interface ContainerEvent {
  container_id: string;
  container_event_type: string;
  created_at: string;
  pod_sandbox_status: { id: string; state: string } | null;
  containers_statuses: { id: string; state: string }[];
}

test('GetContainerEvents: created, started, stopped, deleted for every container, none dropped, with statuses', { skip: skipCri, timeout: 120_000 }, async (t) => {
  const bed = await criTestbed(t, { tag: 'evt' });
  const config = podConfig(bed, 'events');
  const connection = new Connection(bed.daemon.address, undefined);
  t.after(() => connection.close());
  await bed.withPod(config, async (pod) => {
    await bed.cri.images('PullImage', { image: { image: 'busybox:1.0' } });
    const events: ContainerEvent[] = [];
    const stream = connection.stream<ContainerEvent>(RUNTIME, 'GetContainerEvents', {});
    stream.on('data', (event) => events.push(event));
    stream.on('error', () => undefined);
    t.after(() => stream.cancel());
    const from = new Promise<string>((resolve) => stream.on('metadata', (md) => resolve(String(md.get('ledgerd-from-seq')[0]))));
    const create = async (name: string) =>
      (await bed.cri.runtime('CreateContainer', { pod_sandbox_id: pod, sandbox_config: config, config: { metadata: { name }, image: { image: 'busybox:1.0' }, command: ['sleep', '1000'] } })).container_id as string;
    const of = (id: string) => events.filter((e) => e.container_id === id);
    // the stream follows from its start: the first event it shows tells it is following
    const first = await create('first');
    await until('the stream follows', () => of(first).length === 1, 10_000);

    const app = await create('app');
    await bed.cri.runtime('StartContainer', { container_id: app });
    await bed.cri.runtime('ExecSync', { container_id: app, cmd: ['true'], timeout: 10 });
    await bed.cri.runtime('StopContainer', { container_id: app, timeout: 0 });
    await bed.cri.runtime('RemoveContainer', { container_id: app });
    await until('four events of app', () => of(app).length >= 4, 10_000);
    assert.deepEqual(of(app).map((e) => e.container_event_type), ['CONTAINER_CREATED_EVENT', 'CONTAINER_STARTED_EVENT', 'CONTAINER_STOPPED_EVENT', 'CONTAINER_DELETED_EVENT'], 'an exec ending is no event');
    const [created, started, stopped, deleted] = of(app);
    for (const e of of(app)) assert.equal(e.pod_sandbox_status?.id, pod);
    assert.equal(started!.pod_sandbox_status?.state, 'SANDBOX_READY');
    const stateIn = (e: ContainerEvent) => e.containers_statuses.find((c) => c.id === app)?.state;
    assert.deepEqual([stateIn(created!), stateIn(started!), stateIn(stopped!), stateIn(deleted!)], ['CONTAINER_CREATED', 'CONTAINER_RUNNING', 'CONTAINER_EXITED', undefined]);
    assert.ok(BigInt(created!.created_at) <= BigInt(deleted!.created_at) && BigInt(created!.created_at) > 0n);

    // a client that reads nothing for a while misses nothing: the stream is read from the log at its pace
    stream.pause();
    const burst: string[] = [];
    for (let i = 0; i < 6; i++) burst.push(await create(`burst-${i}`));
    for (const id of burst) await bed.cri.runtime('RemoveContainer', { container_id: id });
    stream.resume();
    await until('the burst', () => burst.every((id) => of(id).length === 2), 10_000);
    for (const id of burst) assert.deepEqual(of(id).map((e) => e.container_event_type), ['CONTAINER_CREATED_EVENT', 'CONTAINER_DELETED_EVENT']);
    // the pod's pause task is no container: no event names it
    assert.ok(events.every((e) => e.container_id !== pod));

    // ledgerd-from-seq: the first stream said where it started; a stream asked to start there sees it all again
    const startedAt = await from;
    assert.match(startedAt, /^\d+$/);
    const again: ContainerEvent[] = [];
    const resumed = connection.stream<ContainerEvent>(RUNTIME, 'GetContainerEvents', {}, { 'ledgerd-from-seq': startedAt });
    resumed.on('data', (event) => again.push(event));
    resumed.on('error', () => undefined);
    t.after(() => resumed.cancel());
    await until('the resumed stream replays', () => again.length >= events.length, 10_000);
    assert.deepEqual(again.slice(0, events.length).map((e) => [e.container_id, e.container_event_type, e.created_at]), events.map((e) => [e.container_id, e.container_event_type, e.created_at]));
    const bad = connection.stream(RUNTIME, 'GetContainerEvents', {}, { 'ledgerd-from-seq': 'soon' });
    bad.on('data', () => undefined);
    const refused = await new Promise<{ code: number; details: string }>((resolve) => bad.on('error', resolve));
    assert.equal(refused.code, status.INVALID_ARGUMENT);
    assert.match(refused.details, /ledgerd-from-seq header "soon": must be a sequence number/);
  });
});
