// Time travel on a large log: a log of N records (default 1,000,000) of container lives (image,
// snapshot, container, task from create to delete, ~2,000 alive at any time) is written with the
// daemon's projections checkpointing every 10,000 records; then a real ledgerd is started on it and
// Log.State (all seven read models) and Log.Diff are timed for points at several ages.
// Timed once the daemon has finished verifying the whole log in the background (start-up work).
// Usage: node dist/bench/time-travel.js [--records N] [--dir DIR] [--reuse]   (--reuse: DIR already holds the log)
import { mkdtempSync, rmSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { EventLog, type NewEvent } from '../src/log/index.js';
import { newEvent, upcast } from '../src/events/index.js';
import { ProjectionSet } from '../src/projections/index.js';
import { READ_MODEL_TABLES } from '../src/services/read-model-tables.js';
import { Connection } from '../src/cli/grpc-client.js';
import { report, seconds } from './report.js';

const { values } = parseArgs({ options: { records: { type: 'string', default: '1000000' }, dir: { type: 'string' }, reuse: { type: 'boolean' } } });
const TOTAL = Number(values.records);
const dir = values.dir ?? mkdtempSync(join(tmpdir(), 'ledgerd-bench-tt-'));
const LOG = 'ledgerd.services.log.v1.Log';
const ALIVE = 2000;
const NS = 'bench';
const SPEC = { typeUrl: 'types.containerd.io/opencontainers/runtime-spec/1/Spec', value: Buffer.from('{"ociVersion":"1.0.2","process":{"args":["sh"]}}') };
const meta = { uid: 1000, gid: 1000, pid: 4242, userAgent: 'bench' };

/** The records of container i's life, from its image to its deletion. */
function birth(i: number): NewEvent[] {
  const id = `c${i}`;
  const image = `docker.io/library/app:${i % 50}`;
  const target = { mediaType: 'application/vnd.oci.image.index.v1+json', digest: `sha256:${String(i % 50).padStart(64, '0')}`, size: 500, annotations: {} };
  return [
    ...(i < 50 ? [newEvent('ImageCreated', NS, `images/${image}`, { name: image, labels: {}, target }, meta)] : []),
    newEvent('SnapshotPrepared', NS, 'snapshots/overlayfs', { snapshotter: 'overlayfs', key: id, parent: '', kind: 'active', id: i + 1, labels: {} }, meta),
    newEvent('ContainerCreated', NS, `containers/${id}`, { id, labels: { n: String(i) }, image, runtime: { name: 'io.containerd.runc.v2' }, spec: SPEC, snapshotter: 'overlayfs', snapshotKey: id, extensions: {} }, meta),
    newEvent('TaskCreated', NS, `tasks/${id}`, { containerId: id, bundle: `/run/ledgerd/${id}`, rootfs: [], io: { stdin: '', stdout: '', stderr: '', terminal: false }, checkpoint: '', pid: 10_000 + i, runtime: 'io.containerd.runc.v2' }, meta),
    newEvent('TaskStarted', NS, `tasks/${id}`, { containerId: id, pid: 10_000 + i }, { actor: 'shim' }),
  ];
}

function death(i: number): NewEvent[] {
  const id = `c${i}`;
  return [
    newEvent('TaskExited', NS, `tasks/${id}`, { containerId: id, id, pid: 10_000 + i, exitStatus: 0, exitedAt: 1n }, { actor: 'shim' }),
    newEvent('TaskDeleted', NS, `tasks/${id}`, { containerId: id, pid: 10_000 + i, exitStatus: 0, exitedAt: 1n }, meta),
    newEvent('ContainerDeleted', NS, `containers/${id}`, { id }, meta),
    newEvent('SnapshotRemoved', NS, 'snapshots/overlayfs', { snapshotter: 'overlayfs', key: id, id: i + 1 }, meta),
  ];
}

async function fill(): Promise<void> {
  const log = EventLog.open({ dir: join(dir, 'root', 'log'), upcast });
  const set = new ProjectionSet(log, { checkpointEvery: 10_000 });
  for (const table of READ_MODEL_TABLES) set.add(table.projection);
  set.start();
  const start = process.hrtime.bigint();
  let born = 0;
  let died = 0;
  while (log.head < TOTAL) {
    const batch: NewEvent[] = [];
    while (batch.length < 1000) batch.push(...(born - died < ALIVE || (born + died) % 2 ? birth(born++) : death(died++)));
    await log.append(batch.slice(0, TOTAL - log.head));
    await set.settle();
  }
  await set.settle();
  await set.stop();
  report('fill_records', log.head, 'records');
  report('fill_seconds', seconds(start), 's');
  report('checkpoints_kept_per_projection', log.checkpoints.series('containers').length, 'checkpoints');
  await log.close();
}

async function startDaemon(): Promise<{ stop(): Promise<void>; connection: Connection }> {
  const address = join(dir, 'ledgerd.sock');
  const child = spawn(process.execPath, ['bin/ledgerd', '--root', join(dir, 'root'), '--state', join(dir, 'state'), '--address', address], { stdio: ['ignore', 'ignore', 'pipe'] });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (/event log verified/.test(output)) resolve();
    });
    child.once('exit', () => reject(new Error(`ledgerd exited:\n${output}`)));
  });
  const connection = new Connection(address, NS);
  return {
    connection,
    async stop() {
      connection.close();
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

if (!values.reuse) await fill();
const daemon = await startDaemon();
try {
  const { seq: head } = await daemon.connection.unary<{ seq: number }>(LOG, 'Head', {});
  for (const age of [0, 5_000, 50_000, 500_000]) {
    const at = Math.max(1, head - age);
    const start = process.hrtime.bigint();
    const reply = await daemon.connection.unary<{ tables: { model: string; rows: unknown[]; folded: number }[] }>(LOG, 'State', { at: { seq: at } });
    const elapsed = seconds(start);
    const folded = Math.max(...reply.tables.map((t) => t.folded));
    const rows = reply.tables.reduce((n, t) => n + t.rows.length, 0);
    report(`state_all_models_${age}_records_back`, elapsed * 1000, `ms (folded up to ${folded} records, ${rows} rows)`);
  }
  const start = process.hrtime.bigint();
  const diff = await daemon.connection.unary<{ changes: unknown[] }>(LOG, 'Diff', { from: { seq: head - 5_000 }, to: { seq: head } });
  report('diff_last_5000_records', seconds(start) * 1000, `ms (${diff.changes.length} changes)`);
} finally {
  await daemon.stop();
  if (!values.dir) rmSync(dir, { recursive: true, force: true });
}
