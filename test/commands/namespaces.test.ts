import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventLog } from '../../src/log/index.js';
import { ProjectionSet, namespacesProjection } from '../../src/projections/index.js';
import { NamespaceCommands } from '../../src/commands/namespaces.js';
import { LedgerError } from '../../src/util/errdefs.js';
import { tempDir } from '../helpers/tmp.js';

function setup(t: import('node:test').TestContext) {
  const log = EventLog.open({ dir: tempDir(t) });
  const projections = new ProjectionSet(log);
  const view = projections.add(namespacesProjection);
  projections.start();
  t.after(async () => {
    await projections.stop();
    await log.close();
  });
  return { log, namespaces: new NamespaceCommands({ log, projections }, view) };
}

const kind = (k: string, pattern?: RegExp) => (err: unknown) =>
  err instanceof LedgerError && err.kind === k && (!pattern || pattern.test(err.message));

test('create, label with masks, replace without a mask, delete', async (t) => {
  const { log, namespaces } = setup(t);
  const created = await namespaces.create('team-a', { owner: 'me', empty: '' }, { requestNamespace: 'default' });
  assert.deepEqual(created.labels, { owner: 'me' });
  await namespaces.update('team-a', { tier: 'gold' }, ['labels.tier'], {});
  assert.deepEqual(namespaces.get('team-a').labels, { owner: 'me', tier: 'gold' });
  await namespaces.update('team-a', {}, ['labels.owner'], {});
  assert.deepEqual(namespaces.get('team-a').labels, { tier: 'gold' });
  await namespaces.update('team-a', { only: 'this' }, [], {});
  assert.deepEqual(namespaces.get('team-a').labels, { only: 'this' });
  await namespaces.delete('team-a', {});
  assert.deepEqual(namespaces.list(), []);
  assert.deepEqual([...log.read(1)].map((r) => r.type), [
    'NamespaceCreated', 'NamespaceUpdated', 'NamespaceUpdated', 'NamespaceUpdated', 'NamespaceDeleted',
  ]);
  assert.equal([...log.read(1)][0]!.meta.requestNamespace, 'default');
});

test('bad input is refused with the rule, and changes nothing', async (t) => {
  const { log, namespaces } = setup(t);
  await assert.rejects(namespaces.create('bad name', {}, {}), kind('invalid argument', /namespace "bad name" must match/));
  await assert.rejects(namespaces.create('a'.repeat(77), {}, {}), kind('invalid argument', /maximum length/));
  await assert.rejects(namespaces.create('ok', { k: 'v'.repeat(4096) }, {}), kind('invalid argument', /4096 bytes/));
  await namespaces.create('ok', {}, {});
  await assert.rejects(namespaces.update('ok', {}, ['labels'], {}), kind('invalid argument', /cannot update "labels"/));
  await assert.rejects(namespaces.update('ok', {}, ['name'], {}), kind('invalid argument', /cannot update "name"/));
  await assert.rejects(namespaces.create('ok', {}, {}), kind('already exists'));
  await assert.rejects(namespaces.delete('nope', {}), kind('not found'));
  assert.equal(log.head, 1);
});

test('a namespace that still holds something cannot be deleted', async (t) => {
  const { namespaces } = setup(t);
  await namespaces.create('busy', {}, {});
  namespaces.registerUsage((ns) => (ns === 'busy' ? ['images'] : []));
  await assert.rejects(namespaces.delete('busy', {}), kind('failed precondition', /must be empty, but it still has images/));
  assert.ok(namespaces.get('busy').createdAt > 0n);
});

test('update of a missing namespace creates it; get of a missing one never fails', async (t) => {
  const { namespaces } = setup(t);
  assert.deepEqual(namespaces.get('ghost').labels, {});
  await namespaces.update('fresh', { a: 'b' }, [], {});
  assert.deepEqual(namespaces.list().map((n) => n.name), ['fresh']);
});

test('concurrent creates of one namespace: exactly one succeeds, the rest get AlreadyExists', async (t) => {
  const { log, namespaces } = setup(t);
  const results = await Promise.allSettled(Array.from({ length: 20 }, () => namespaces.create('race', {}, {})));
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  for (const r of results) if (r.status === 'rejected') assert.ok(kind('already exists')(r.reason), String(r.reason));
  assert.equal(log.head, 1);
});
