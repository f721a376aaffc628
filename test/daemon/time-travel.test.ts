// Time travel against a real daemon: `ledgerctl state --at` and `ledgerctl diff` through the Log service.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { status, type ServiceError } from '@grpc/grpc-js';
import { LEDGERCTL, startTestDaemon } from '../helpers/daemon.js';

const run = promisify(execFile);
const CONTAINERS = 'containerd.services.containers.v1.Containers';
const IMAGES = 'containerd.services.images.v1.Images';
const LOG = 'ledgerd.services.log.v1.Log';
const SPEC = { type_url: 'types.containerd.io/opencontainers/runtime-spec/1/Spec', value: Buffer.from('{"ociVersion":"1.0.2"}') };
const TARGET = { media_type: 'application/vnd.oci.image.index.v1+json', digest: `sha256:${'a'.repeat(64)}`, size: 321 };

test('state --at shows the read models as they were; diff lists what changed, with fields and reasons', async (t) => {
  const daemon = await startTestDaemon(t, { args: ['--log-level', 'warn'] });
  const c = daemon.connect('tt');
  const ctl = (...args: string[]) => run(process.execPath, [LEDGERCTL, '-a', daemon.address, '-n', 'tt', ...args]).then((r) => r.stdout);
  const head = async () => (await c.unary<{ seq: number }>(LOG, 'Head', {})).seq;

  await c.unary(IMAGES, 'Create', { image: { name: 'docker.io/library/web:1', target: TARGET, labels: {} } });
  await c.unary(CONTAINERS, 'Create', { container: { id: 'web', image: 'docker.io/library/web:1', runtime: { name: 'io.containerd.runc.v2' }, spec: SPEC, labels: { tier: 'front' } } });
  const created = await head();
  const createdAt = (await ctl('log', 'show', '--from', String(created))).trim();
  const createdTime = JSON.parse(createdAt).time as string;
  await c.unary(CONTAINERS, 'Update', { container: { id: 'web', labels: { tier: 'back' } }, update_mask: { paths: ['labels'] } });
  await c.unary(CONTAINERS, 'Create', { container: { id: 'db', runtime: { name: 'io.containerd.runc.v2' }, spec: SPEC } });
  const updated = await head();
  await c.unary(CONTAINERS, 'Delete', { id: 'web' });
  await c.unary(IMAGES, 'Delete', { name: 'docker.io/library/web:1' });

  const past = await ctl('state', '--at', String(created), 'containers', 'images');
  assert.match(past, new RegExp(`^# as of seq ${created} `));
  assert.match(past, /containers:\nCONTAINER +IMAGE +RUNTIME +\nweb +docker\.io\/library\/web:1 +io\.containerd\.runc\.v2 +\n\nimages:/);
  assert.match(past, /REF +TYPE +DIGEST +SIZE +LABELS +\ndocker\.io\/library\/web:1 +application\/vnd\.oci\.image\.index\.v1\+json +sha256:a{64} +321 +- +\n$/);

  // a time names the last record at or before it
  const byTime = await ctl('state', '--at', createdTime, 'containers');
  assert.match(byTime, new RegExp(`^# as of seq ${created} `));

  const now = await ctl('state', '--at', String(await head()), 'containers');
  assert.match(now, /CONTAINER +IMAGE +RUNTIME +\ndb +- +io\.containerd\.runc\.v2 +\n$/);

  const changes = await ctl('diff', '--from', String(created), '--to', String(updated), 'containers');
  const me = `uid=${process.getuid!()},pid=${process.pid}`;
  assert.match(changes, new RegExp(`containers +db +created +\\d+ +${me} +ContainerCreated`));
  assert.match(changes, new RegExp(`containers +web +updated +\\d+ +${me} +labels`));
  const deletions = await ctl('diff', '--from', String(updated));
  assert.match(deletions, new RegExp(`containers +web +deleted +\\d+ +${me} +ContainerDeleted`));
  assert.match(deletions, /images +docker\.io\/library\/web:1 +deleted/);
  assert.doesNotMatch(deletions, / db /);

  // through the RPC: which checkpoint the fold started from, and the errors
  const reply = await c.unary<{ seq: number; tables: { model: string; checkpoint_seq: number; folded: number }[] }>(LOG, 'State', { at: { seq: created }, models: ['namespaces'] });
  assert.equal(reply.tables[0]!.folded, created - reply.tables[0]!.checkpoint_seq);
  await assert.rejects(c.unary(LOG, 'State', { at: { seq: 10_000 } }), (err: ServiceError) => err.code === status.INVALID_ARGUMENT && /at\.seq: 10000 is after the log's head/.test(err.details));
  await assert.rejects(c.unary(LOG, 'State', { models: ['pods'] }), (err: ServiceError) => err.code === status.INVALID_ARGUMENT && /models: unknown read model "pods"/.test(err.details));
  await assert.rejects(ctl('state', '--at', 'yesterday'), /--at yesterday: must be a sequence number or an RFC 3339 time/);
});

test('state --at a point before the last checkpoint folds from an older one in the series', async (t) => {
  const daemon = await startTestDaemon(t, { args: ['--log-level', 'warn'] });
  const { writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const config = join(daemon.root, '..', 'small-checkpoints.toml');
  writeFileSync(config, 'version = 2\n[plugins."io.ledgerd.projection.v1.projections"]\ncheckpoint_interval = 5\n');
  await daemon.stop();
  const small = await startTestDaemon(t, { dir: join(daemon.root, '..'), args: ['--log-level', 'warn', '-c', config] });
  const c = small.connect('tt');
  const seqs: number[] = [];
  for (let i = 0; i < 40; i++) {
    await c.unary(CONTAINERS, 'Create', { container: { id: `c${i}`, runtime: { name: 'io.containerd.runc.v2' }, spec: SPEC } });
    seqs.push((await c.unary<{ seq: number }>(LOG, 'Head', {})).seq);
  }
  const reply = await c.unary<{ tables: { rows: unknown[]; checkpoint_seq: number; folded: number }[] }>(LOG, 'State', { at: { seq: seqs[19] }, models: ['containers'] });
  assert.equal(reply.tables[0]!.rows.length, 20);
  assert.ok(reply.tables[0]!.checkpoint_seq > 0 && reply.tables[0]!.checkpoint_seq <= seqs[19]!, `from ${reply.tables[0]!.checkpoint_seq}`);
  assert.ok(reply.tables[0]!.folded < 20, `folded ${reply.tables[0]!.folded}`);
});
