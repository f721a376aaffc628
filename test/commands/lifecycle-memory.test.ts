// What the daemon keeps after containers have come and gone: the read models (the state a
// checkpoint writes) must hold what is live, not a trace of every container ever run.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { EventLog, encodeValue } from '../../src/log/index.js';
import { ProjectionSet, containersProjection, leasesProjection, tasksProjection } from '../../src/projections/index.js';
import { ContainerCommands } from '../../src/commands/containers.js';
import { LeaseCommands } from '../../src/commands/leases.js';
import { TaskCommands } from '../../src/commands/tasks.js';
import { LedgerError } from '../../src/util/errdefs.js';
import { tempDir } from '../helpers/tmp.js';
import { InMemoryTaskRuntime } from '../helpers/task-runtime.js';

const SPEC = { typeUrl: 'types.containerd.io/opencontainers/runtime-spec/1/Spec', value: Buffer.from('{"ociVersion":"1.0.2","process":{"args":["true"]}}') };

function setup(t: TestContext) {
  const log = EventLog.open({ dir: tempDir(t) });
  const projections = new ProjectionSet(log);
  const views = [projections.add(containersProjection), projections.add(tasksProjection), projections.add(leasesProjection)] as const;
  projections.start();
  const runtime = new InMemoryTaskRuntime();
  const ctx = { log, projections };
  const containers = new ContainerCommands(ctx, views[0]);
  const tasks = new TaskCommands(ctx, views[1], views[0], runtime, { warn: () => {} });
  const leases = new LeaseCommands(ctx, views[2]);
  t.after(async () => {
    tasks.close();
    await projections.stop();
    await log.close();
  });
  /** One `ctr run --rm`: a lease, the container, its task started, exited and deleted, then all deleted. */
  const run = async (id: string) => {
    const lease = await leases.create('ns', '', {}, {});
    await containers.create('ns', { id, runtime: { name: 'io.containerd.runc.v2' }, spec: SPEC }, {});
    await tasks.create('ns', { containerId: id, rootfs: [], stdin: '', stdout: '', stderr: '', terminal: false });
    await tasks.start('ns', id);
    const waiting = tasks.wait('ns', id);
    runtime.task('ns', id).end(runtime.task('ns', id).init, 0);
    await waiting;
    await runtime.delivered();
    await tasks.settled();
    await tasks.delete('ns', id);
    await containers.delete('ns', id, {});
    await leases.delete('ns', lease.id, false, {});
  };
  const sizes = () => Object.fromEntries(views.map((view) => [view.name, encodeValue(view.state).length]));
  return { log, run, sizes, containers };
}

test('read models keep nothing of containers that have been run and deleted', async (t) => {
  const { log, run, sizes } = setup(t);
  for (let i = 0; i < 5; i++) await run(`warm-${i}`);
  const before = sizes();
  const head = log.head;
  for (let i = 0; i < 40; i++) await run(`c-${i}`);
  assert.ok(log.head >= head + 40 * 8, 'the lifecycles are in the log');
  assert.deepEqual(sizes(), before, 'the read models are the same size after 40 more lifecycles');
});

test('lifecycles running side by side all succeed: appends to other streams do not hold a new id back', async (t) => {
  const { run } = setup(t);
  await Promise.all([0, 1, 2, 3].map(async (loop) => {
    for (let i = 0; i < 10; i++) await run(`side-${loop}-${i}`);
  }));
});

test('a container id used again continues its stream after the read model forgot it', async (t) => {
  const { log, run, containers } = setup(t);
  await run('again');
  await run('again');
  const versions = [...log.read(1)].filter((r) => r.stream === 'containers/again').map((r) => r.version);
  assert.deepEqual(versions, [1, 2, 3, 4]);
  // two creates of one id racing: one wins, the other is told it exists
  const results = await Promise.allSettled([
    containers.create('ns', { id: 'again', runtime: { name: 'io.containerd.runc.v2' }, spec: SPEC }, {}),
    containers.create('ns', { id: 'again', runtime: { name: 'io.containerd.runc.v2' }, spec: SPEC }, {}),
  ]);
  assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
  const refused = (results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason as LedgerError;
  assert.equal(refused.kind, 'already exists');
});
