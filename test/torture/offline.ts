// Checks of a stopped daemon's root, made by opening its log here: the read models rebuilt from
// nothing equal the ones loaded from checkpoints, and what is on disk (blobs, uploads, snapshot
// directories) is exactly what the read models hold.
import { existsSync, readdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { upcast } from '../../src/events/index.js';
import { EventLog } from '../../src/log/index.js';
import {
  containersProjection,
  contentProjection,
  imagesProjection,
  leasesProjection,
  liveIds,
  namespacesProjection,
  ProjectionRunner,
  snapshotsProjection,
  tasksProjection,
  type ContentState,
  type Projection,
  type SnapshotsState,
} from '../../src/projections/index.js';

const PROJECTIONS: Projection<unknown>[] = [namespacesProjection, contentProjection, snapshotsProjection, imagesProjection, leasesProjection, containersProjection, tasksProjection] as Projection<unknown>[];

/** Numbers and bigints alike (a checkpoint may hand a small bigint back as a number). */
const canonical = (value: unknown): unknown =>
  typeof value === 'bigint' || typeof value === 'number'
    ? `#${String(value)}`
    : value instanceof Uint8Array
      ? `bytes:${Buffer.from(value).toString('hex')}`
      : Array.isArray(value)
        ? value.map(canonical)
        : value && typeof value === 'object'
          ? Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined).map(([k, v]) => [k, canonical(v)]))
          : value;

function fold<S>(log: EventLog, projection: Projection<S>, fromCheckpoint: boolean): ProjectionRunner<S> {
  const runner = new ProjectionRunner(log, projection);
  const from = fromCheckpoint ? runner.load() : 0;
  for (const record of log.read(from + 1)) runner.apply(record);
  return runner;
}

function withLog<T>(root: string, use: (log: EventLog) => T): Promise<T> {
  const log = EventLog.open({ dir: join(root, 'log'), upcast });
  try {
    return Promise.resolve(use(log)).finally(() => log.close());
  } catch (err) {
    void log.close();
    throw err;
  }
}

/** Differences between the read models as loaded from checkpoints and as replayed from the first record. */
export function checkpointsMatchReplay(root: string): Promise<string[]> {
  return withLog(root, (log) => {
    const problems: string[] = [];
    for (const projection of PROJECTIONS) {
      const loaded = fold(log, projection, true);
      const replayed = fold(log, projection, false);
      if (!isDeepStrictEqual(canonical(loaded.state), canonical(replayed.state))) {
        problems.push(`projection ${projection.name}: the state loaded from its checkpoint differs from a replay of the whole log`);
      }
    }
    return problems;
  });
}

const list = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).filter((name) => !name.startsWith('.')) : []);

/** What is on disk and no record holds, and what a record holds that is not on disk. */
export function diskMatchesLog(root: string): Promise<string[]> {
  return withLog(root, (log) => {
    const problems: string[] = [];
    const content = fold(log, contentProjection, true).state as ContentState;
    const blobs = new Set(Object.values(content.blobs).flatMap((byDigest) => Object.keys(byDigest).map((d) => d.slice('sha256:'.length))));
    const contentDir = join(root, 'io.containerd.content.v1.content');
    const onDisk = new Set(list(join(contentDir, 'blobs', 'sha256')));
    for (const blob of onDisk) if (!blobs.has(blob)) problems.push(`orphan blob sha256:${blob}`);
    for (const blob of blobs) if (!onDisk.has(blob)) problems.push(`blob sha256:${blob} recorded but not on disk`);
    const uploads = new Set(Object.values(content.ingests).flatMap((byRef) => Object.values(byRef).map((i) => createHash('sha256').update(i.backendRef).digest('hex'))));
    for (const dir of list(join(contentDir, 'ingest'))) if (!uploads.has(dir)) problems.push(`orphan upload directory ingest/${dir}`);

    const snapshots = fold(log, snapshotsProjection, true).state as SnapshotsState;
    for (const snapshotter of ['overlayfs', 'native']) {
      const live = liveIds(snapshots, snapshotter);
      // rm-<id>: a removed snapshot's directory, deleted after the answer (or at the next start)
      const dirs = list(join(root, `io.containerd.snapshotter.v1.${snapshotter}`, 'snapshots')).filter((name) => !name.startsWith('rm-'));
      for (const dir of dirs) if (!live.has(Number(dir))) problems.push(`orphan snapshot directory ${snapshotter}/snapshots/${dir}`);
      for (const id of live) if (!dirs.includes(String(id))) problems.push(`snapshot ${snapshotter} #${id} recorded but its directory is missing`);
    }
    return problems;
  });
}
