import type { EventRecord } from '../../src/events/index.js';
// Events that evolve: records written by an older release (test/fixtures/log-schema1.b64, one
// encoded record per line, never regenerated) must still decode, upcast to the current schema and
// fold into the read models. A payload change without its upcaster fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Damage, decodeRecord } from '../../src/log/codec.js';
import type { LogRecord } from '../../src/log/index.js';
import { SCHEMA_VERSIONS, upcast, upcasterOf } from '../../src/events/index.js';
import {
  containersProjection,
  contentProjection,
  imagesProjection,
  leasesProjection,
  namespacesProjection,
  podOf,
  podsProjection,
  snapshotsIn,
  snapshotsProjection,
  taskOf,
  tasksProjection,
  type Projection,
} from '../../src/projections/index.js';

const FIXTURE = fileURLToPath(new URL('../../../test/fixtures/log-schema1.b64', import.meta.url));

function oldRecords(): LogRecord[] {
  return readFileSync(FIXTURE, 'utf8')
    .split('\n')
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const decoded = decodeRecord(Buffer.from(line, 'base64'));
      assert.ok(!(decoded instanceof Damage), `a fixture record does not decode: ${decoded instanceof Damage ? decoded.reason : ''}`);
      return upcast(decoded as LogRecord);
    });
}

function fold<S>(projection: Projection<S>, records: readonly LogRecord[], to = Infinity): S {
  return records.filter((r) => r.seq <= to).reduce((state, record) => projection.evolve(state, record as LogRecord & EventRecord), projection.initial());
}

test('every old record is of a type this release still knows, and upcasts to its current schema', () => {
  const records = oldRecords();
  // the fixture held every type of its day (types added since have no older records to read)
  assert.ok(new Set(records.map((r) => r.type)).size >= 36);
  for (const record of records) assert.ok(record.type in SCHEMA_VERSIONS, `${record.type}: an event type of old logs is gone`);
  for (const record of records) assert.equal(record.schema, SCHEMA_VERSIONS[record.type as keyof typeof SCHEMA_VERSIONS], `${record.type} at seq ${record.seq}`);
});

test('old records fold into the read models the current release keeps', () => {
  const records = oldRecords();
  const namespaces = fold(namespacesProjection, records);
  assert.deepEqual(Object.keys(namespaces.live), ['audit']);
  assert.deepEqual(namespaces.live.audit!.labels, { team: 'b' });

  const running = fold(tasksProjection, records, 29);
  const task = taskOf(running, 'audit', 'web')!;
  assert.deepEqual([task.init.pid, task.init.status, task.oomKills, Object.keys(task.execs)], [4242, 'running', 1, []]);
  assert.equal(taskOf(fold(tasksProjection, records), 'audit', 'web'), undefined);

  const containers = fold(containersProjection, records, 31);
  assert.deepEqual(containers.live.audit?.web?.labels, { v: '2' });
  assert.equal(Buffer.from(containers.live.audit!.web!.spec.value).toString(), '{"ociVersion":"1.0.2"}');
  assert.equal(fold(containersProjection, records).live.audit?.web, undefined);

  const snapshots = snapshotsIn(fold(snapshotsProjection, records), 'audit', 'overlayfs');
  assert.deepEqual(snapshots.map((s) => [s.key, s.kind, s.parent, s.labels]), [['layer1', 'committed', '', {}], ['web', 'active', 'layer1', { a: 'b' }]]);

  assert.deepEqual(Object.keys(fold(imagesProjection, records, 12).live.audit ?? {}), ['app:1']);
  assert.deepEqual(fold(imagesProjection, records).live.audit, {});
  assert.equal(fold(contentProjection, records, 6).blobs.audit?.[`sha256:${'c'.repeat(64)}`]?.labels['containerd.io/gc.root'], 'x');
  assert.deepEqual(Object.keys(fold(leasesProjection, records, 9).live.audit?.l1?.resources ?? {}), [`content/sha256:${'c'.repeat(64)}`]);
  assert.equal(fold(leasesProjection, records).live.audit?.l1, undefined);
  assert.equal(podOf(fold(podsProjection, records, 39), 'k8s.io', 'p1')?.metadata.name, 'web');
  assert.equal(podOf(fold(podsProjection, records), 'k8s.io', 'p1'), undefined);
  // who asked is kept as written
  assert.deepEqual([records[0]!.meta.peerUid, records[0]!.meta.userAgent], [1000, 'ctr/1.6.20']);
});

test('upcasters step a payload one version at a time; a missing step is an error', () => {
  const upcastFixture = upcasterOf(
    {
      Renamed: {
        1: (p) => ({ ...(p as object), labels: (p as { tags?: object }).tags ?? {}, tags: undefined }),
        2: (p) => ({ ...(p as object), owner: 'unknown' }),
      },
      Gapped: { 2: (p) => p },
    },
    { Renamed: 3, Gapped: 3 },
  );
  const record = { seq: 1, type: 'Renamed', schema: 1, payload: { id: 'x', tags: { a: 'b' } }, meta: { peerUid: 7 } };
  const current = upcastFixture(record);
  assert.deepEqual(current.payload, { id: 'x', labels: { a: 'b' }, tags: undefined, owner: 'unknown' });
  assert.equal(current.schema, 3);
  assert.deepEqual(current.meta, { peerUid: 7 });
  assert.deepEqual(record.payload, { id: 'x', tags: { a: 'b' } }, 'the stored record is never rewritten');
  const already = { ...record, schema: 3 };
  assert.equal(upcastFixture(already), already, 'a record of the current schema comes back as it is');
  assert.throws(() => upcastFixture({ ...record, type: 'Gapped' }), /no upcaster for Gapped schema 1/);
});
