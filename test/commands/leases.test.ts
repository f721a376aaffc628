import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { EventLog } from '../../src/log/index.js';
import { ProjectionSet, leasesProjection } from '../../src/projections/index.js';
import { LeaseCommands } from '../../src/commands/leases.js';
import { LedgerError } from '../../src/util/errdefs.js';
import { tempDir } from '../helpers/tmp.js';

function setup(t: TestContext) {
  const log = EventLog.open({ dir: tempDir(t) });
  const projections = new ProjectionSet(log);
  const view = projections.add(leasesProjection);
  projections.start();
  t.after(async () => {
    await projections.stop();
    await log.close();
  });
  return { log, leases: new LeaseCommands({ log, projections }, view) };
}

const kind = (k: string, pattern?: RegExp) => (err: unknown) =>
  err instanceof LedgerError && err.kind === k && (!pattern || pattern.test(err.message));
const DIGEST = `sha256:${'a'.repeat(64)}`;

test('leases: create with and without an id, resources, delete', async (t) => {
  const { leases } = setup(t);
  const named = await leases.create('ns', 'mine', { 'containerd.io/gc.expire': '2030-01-01T00:00:00Z' }, {});
  assert.equal(named.id, 'mine');
  const generated = await leases.create('ns', '', {}, {});
  assert.match(generated.id, /^\d+-[A-Za-z0-9_-]{4}$/);
  await leases.addResource('ns', 'mine', { id: DIGEST, type: 'content' }, {});
  await leases.addResource('ns', 'mine', { id: 'key 1', type: 'snapshots/overlayfs' }, {});
  await leases.addResource('ns', 'mine', { id: 'ref', type: 'ingests' }, {});
  await leases.addResource('ns', 'mine', { id: DIGEST, type: 'content' }, {}); // idempotent
  assert.deepEqual(Object.keys(leases.get('ns', 'mine')!.resources).sort(), [`content/${DIGEST}`, 'ingests/ref', 'snapshots/overlayfs/key 1']);
  await leases.deleteResource('ns', 'mine', { id: 'ref', type: 'ingests' }, {});
  assert.equal(Object.keys(leases.get('ns', 'mine')!.resources).length, 2);
  assert.deepEqual(leases.list('ns').map((l) => l.id).sort(), [generated.id, 'mine'].sort());
  await leases.delete('ns', 'mine', false, {});
  assert.equal(leases.exists('ns', 'mine'), false);
  // an id can be used again after a delete
  await leases.create('ns', 'mine', {}, {});
  assert.equal(leases.exists('ns', 'mine'), true);
});

test('leases: containerd errors for bad input, nothing appended', async (t) => {
  const { log, leases } = setup(t);
  await leases.create('ns', 'l', {}, {});
  const head = log.head;
  await assert.rejects(leases.create('ns', 'l', {}, {}), kind('already exists', /lease "l"/));
  await assert.rejects(leases.delete('ns', 'nope', false, {}), kind('not found'));
  await assert.rejects(leases.addResource('ns', 'nope', { id: DIGEST, type: 'content' }, {}), kind('not found'));
  await assert.rejects(leases.addResource('ns', 'l', { id: 'not-a-digest', type: 'content' }, {}), kind('invalid argument', /invalid digest/));
  await assert.rejects(leases.addResource('ns', 'l', { id: 'x', type: 'snapshots' }, {}), kind('invalid argument', /snapshots\/<snapshotter>/));
  await assert.rejects(leases.addResource('ns', 'l', { id: 'x', type: 'containers' }, {}), kind('not implemented', /resource type containers not supported yet/));
  assert.equal(log.head, head);
});
