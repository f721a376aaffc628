import { lstat, opendir } from 'node:fs/promises';
import { join } from 'node:path';
import type { SnapshotUsage } from './snapshotter.js';

/**
 * continuity's fs.DiskUsage: walk the tree without following symlinks; every distinct inode
 * (device, inode) counts once, with its allocated blocks (st_blocks * 512). The root counts too,
 * so an empty directory is 4096 bytes / 1 inode on ext4.
 */
export async function diskUsage(root: string): Promise<SnapshotUsage> {
  const seen = new Set<string>();
  let size = 0n;
  const pending = [root];
  while (pending.length > 0) {
    const path = pending.pop()!;
    const stat = await lstat(path, { bigint: true });
    const inode = `${stat.dev}:${stat.ino}`;
    if (!seen.has(inode)) {
      seen.add(inode);
      size += stat.blocks * 512n;
    }
    if (stat.isDirectory()) {
      const dir = await opendir(path);
      for await (const entry of dir) pending.push(join(path, entry.name));
    }
  }
  return { size: Number(size), inodes: seen.size };
}
