// Time travel against a real daemon: `ledgerctl state --at` and `ledgerctl diff` through the Log service.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { status, type ServiceError } from '@grpc/grpc-js';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LEDGERCTL, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';

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

test('state --at and diff answer the same for points whose records retention moved to the archive', async (t) => {
  const dir = tempDir(t);
  const config = join(dir, 'config.toml');
  writeFileSync(config, 'version = 2\n[plugins."io.ledgerd.log.v1.lmdb"]\nretention_age = "1ms"\n[plugins."io.ledgerd.projection.v1.projections"]\ncheckpoint_interval = 8\n');
  const daemon = await startTestDaemon(t, { dir: join(dir, 'd'), args: ['--log-level', 'info', '-c', config] });
  const c = daemon.connect('tt');
  const ctl = (address: string, ...args: string[]) => run(process.execPath, [LEDGERCTL, '-a', address, '-n', 'tt', ...args]).then((r) => r.stdout);
  const head = async () => (await c.unary<{ seq: number }>(LOG, 'Head', {})).seq;
  const points: number[] = [];
  for (let i = 0; i < 12; i++) {
    await c.unary(CONTAINERS, 'Create', { container: { id: `c${i}`, runtime: { name: 'io.containerd.runc.v2' }, spec: SPEC, labels: { round: '0' } } });
    await c.unary(CONTAINERS, 'Update', { container: { id: `c${i}`, labels: { round: '1' } }, update_mask: { paths: ['labels'] } });
    if (i % 3 === 2) await c.unary(CONTAINERS, 'Delete', { id: `c${i - 1}` });
    points.push(await head());
  }
  const last = await head();
  const createdTime = JSON.parse((await ctl(daemon.address, 'log', 'show', '--from', String(points[4]))).split('\n')[0]!).time as string;
  // what the daemon answers while every record is in LMDB (the fold's starting checkpoint may differ later)
  type Table = { model: string; columns: string[]; rows: unknown[] };
  const ask = async (daemon: TestDaemon) => {
    const log = daemon.connect('tt');
    const states = await Promise.all(
      points.map(async (seq) => {
        const reply = await log.unary<{ seq: number; tables: Table[] }>(LOG, 'State', { at: { seq }, models: ['containers', 'namespaces'] });
        return { seq: reply.seq, tables: reply.tables.map(({ model, columns, rows }) => ({ model, columns, rows })) };
      }),
    );
    const diffs = await Promise.all([
      log.unary(LOG, 'Diff', { from: { seq: points[1] }, to: { seq: points[7] } }),
      log.unary(LOG, 'Diff', { from: { seq: 1 }, to: { seq: points[10] } }),
    ]);
    const cli = await Promise.all([ctl(daemon.address, 'state', '--at', createdTime, 'containers'), ctl(daemon.address, 'diff', '--from', String(points[1]), '--to', String(points[7]))]);
    return { states, diffs, cli };
  };
  const before = await ask(daemon);
  assert.match(before.cli[0]!, /CONTAINER +IMAGE +RUNTIME +\nc0 /);
  assert.match(before.cli[1]!, /containers +c1 +deleted/);

  assert.equal(await daemon.stop(), 0);
  const restarted = await daemon.restart();
  const archived = await until('retention at start-up', () => /log retention: (\d+) records archived/.exec(restarted.output())?.[1], 30_000);
  assert.ok(Number(archived) >= points[10]!, `${archived} records archived, the points reach ${points[10]}`);
  assert.ok(readdirSync(join(restarted.root, 'log', 'archive')).some((name) => name.endsWith('.seg')));

  const after = await ask(restarted);
  assert.deepEqual(after, before);
  // and a fold that starts before the archive's end and ends in LMDB
  assert.match(await ctl(restarted.address, 'diff', '--from', String(points[2]), '--to', String(last)), /containers +c11 +created/);
});
