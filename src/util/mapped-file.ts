// The pages of a file this process maps shared (LMDB's data file) count in its resident set once
// touched, and stay counted: the log's map grows with every record appended, read by a replay or
// checked by verify. They are page cache, not the process's own memory: dropping the process's
// claim on them (madvise MADV_DONTNEED on a shared file mapping) leaves the data in the page
// cache and on disk, and the next read faults the page back in from there.
import { readFileSync } from 'node:fs';
import { bindLibc, errnoError } from './libc.js';

const MADV_DONTNEED = 4;
const libc = bindLibc<{ madvise: (addr: bigint, length: bigint, advice: number) => number }>({
  madvise: 'int madvise(uintptr_t addr, size_t length, int advice)',
});

export interface MappedRange {
  readonly start: bigint;
  readonly end: bigint;
}

/** This process's shared mappings of `path`, from /proc/self/maps. */
export function sharedMappingsOf(path: string, maps: string = readFileSync('/proc/self/maps', 'utf8')): MappedRange[] {
  const ranges: MappedRange[] = [];
  for (const line of maps.split('\n')) {
    // start-end perms offset dev inode path
    const fields = line.split(/\s+/, 6);
    if (fields.length < 6 || line.slice(line.indexOf(fields[5]!)) !== path || fields[1]![3] !== 's') continue;
    const [start, end] = fields[0]!.split('-').map((hex) => BigInt(`0x${hex}`));
    ranges.push({ start: start!, end: end! });
  }
  return ranges;
}

/** Gives back the resident pages of this process's shared mappings of `path`; returns the bytes of map covered. */
export function releaseMappedPages(path: string): number {
  let covered = 0n;
  for (const { start, end } of sharedMappingsOf(path)) {
    if (libc().madvise(start, end - start, MADV_DONTNEED) !== 0) throw errnoError('madvise', path);
    covered += end - start;
  }
  return Number(covered);
}
