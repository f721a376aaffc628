import { constants } from 'node:fs';
import { open, readFile, rename } from 'node:fs/promises';

/** fsync of a directory: makes a rename or a new entry in it durable. */
export async function syncDir(path: string): Promise<void> {
  const handle = await open(path, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes a small file whole: tmp file, fsync, rename over the target (containerd's writeToCompletion). */
export async function writeToCompletion(path: string, data: string): Promise<void> {
  const tmp = `${path}.tmp`;
  const handle = await open(tmp, 'w', 0o666);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
}

export async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export const isNotFound = (err: unknown): boolean => (err as NodeJS.ErrnoException)?.code === 'ENOENT';
export const isExists = (err: unknown): boolean => (err as NodeJS.ErrnoException)?.code === 'EEXIST';

/** Go's time.MarshalText form (RFC 3339 with nanoseconds, trailing zeros trimmed), in UTC. */
export function formatTime(ns: bigint): string {
  const ms = ns / 1_000_000n;
  const base = new Date(Number(ms)).toISOString().slice(0, 19);
  const fraction = (ns % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return `${base}${fraction ? `.${fraction}` : ''}Z`;
}

/** Parses an RFC 3339 time with up to nanosecond precision and any offset; undefined if it is not one. */
export function parseTime(text: string): bigint | undefined {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(text.trim());
  if (!m) return undefined;
  const seconds = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(seconds)) return undefined;
  return BigInt(seconds) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

/** A file time (fs.Stats with bigint: true) in nanoseconds. */
export const mtimeNs = (stats: { mtimeNs: bigint }): bigint => stats.mtimeNs;
