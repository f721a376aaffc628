import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { notFound } from '../util/errdefs.js';
import { isNotFound, parseTime, readOptional } from './files.js';
import type { Layout } from './layout.js';

/** What the backend knows of an upload: all of it read from the ingest directory. */
export interface IngestStatus {
  readonly backendRef: string;
  /** Bytes written so far: the size of `data`. */
  readonly offset: number;
  /** Declared size, 0 when none was given. */
  readonly total: number;
  /** Nanoseconds since the epoch. */
  readonly startedAt: bigint;
  /** The later of `updatedat` and the data file's mtime (updatedat is written only on close). */
  readonly updatedAt: bigint;
}

/** Reads an ingest directory; NotFound when its data or ref is gone (content/local status()). */
export async function readIngest(dir: string): Promise<IngestStatus> {
  let data;
  try {
    data = await stat(join(dir, 'data'), { bigint: true });
  } catch (err) {
    if (isNotFound(err)) throw notFound(`ingest ${dir}: no data`);
    throw err;
  }
  const backendRef = await readOptional(join(dir, 'ref'));
  if (backendRef === undefined) throw notFound(`ingest ${dir}: no ref`);
  const times = [await readOptional(join(dir, 'startedat')), await readOptional(join(dir, 'updatedat'))];
  // files gone meanwhile: a commit or abort is removing the directory (containerd: NotFound too)
  if (times.includes(undefined)) throw notFound(`ingest ${dir}: no startedat/updatedat`);
  const [startedAt, updatedAt] = times.map((text) => parseTime(text!));
  if (startedAt === undefined || updatedAt === undefined) throw new Error(`ingest ${dir}: could not read startedat/updatedat`);
  const total = Number.parseInt((await readOptional(join(dir, 'total'))) ?? '', 10);
  return {
    backendRef,
    offset: Number(data.size),
    total: Number.isFinite(total) ? total : 0,
    startedAt,
    updatedAt: data.mtimeNs > updatedAt ? data.mtimeNs : updatedAt,
  };
}

/** Backend refs of the ingest directories on disk; unreadable ones are skipped (WalkStatusRefs). */
export async function listIngests(layout: Layout): Promise<{ backendRef: string; dir: string }[]> {
  let names: string[];
  try {
    names = await readdir(layout.ingestsDir);
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
  const found: { backendRef: string; dir: string }[] = [];
  for (const name of names) {
    const dir = join(layout.ingestsDir, name);
    const backendRef = await readOptional(join(dir, 'ref')).catch(() => undefined);
    if (backendRef !== undefined) found.push({ backendRef, dir });
  }
  return found;
}
