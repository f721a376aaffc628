import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { SnapshotUsage } from './snapshotter.js';

/** Entries measured between two turns of the event loop. */
const BATCH = 2000;

/**
 * continuity's fs.DiskUsage: walk the tree without following symlinks; every distinct inode
 * (device, inode) counts once, with its allocated blocks (st_blocks * 512). The root counts too,
 * so an empty directory is 4096 bytes / 1 inode on ext4.
 *
 * Synchronous calls in batches: a thread-pool round trip per lstat made a commit of a layer of
 * ~10,000 files take a second (containerd: ~80 ms); batches keep the daemon responsive. Only
 * files with other links need their identity remembered (a directory is reached once); those
 * take a second, exact (bigint) lstat, so the common case stays a plain one (bigint stats cost
 * ~2x the CPU: measured 77-187 against 30-55 ms for a layer of 14,592 entries).
 */
export async function diskUsage(root: string): Promise<SnapshotUsage> {
  const linked = new Set<string>();
  let size = 0;
  let inodes = 0;
  let measured = 0;
  const pending = [root];
  while (pending.length > 0) {
    const path = pending.pop()!;
    const stat = lstatSync(path);
    if (stat.isDirectory() || stat.nlink === 1 || remember(linked, path)) {
      inodes++;
      size += stat.blocks * 512;
    }
    if (stat.isDirectory()) for (const name of readdirSync(path)) pending.push(join(path, name));
    if (++measured % BATCH === 0) await yieldToLoop();
  }
  return { size, inodes };
}

/** Whether this is the first time the walk meets the inode at `path` (a file with several links). */
function remember(seen: Set<string>, path: string): boolean {
  const { dev, ino } = lstatSync(path, { bigint: true });
  const inode = `${dev}:${ino}`;
  if (seen.has(inode)) return false;
  seen.add(inode);
  return true;
}
