import { chmod } from 'node:fs/promises';
import type { Mount } from '../util/mount/index.js';
import type { CreateKind, SnapshotBackend } from './backend.js';
import { copyDir } from './copy-dir.js';
import { diskUsage } from './disk-usage.js';
import { SnapshotDirectories } from './directories.js';
import type { SnapshotUsage } from './snapshotter.js';

/**
 * The native snapshotter's storage (containerd's snapshots/native): every active snapshot is a
 * full copy of its parent's tree in `snapshots/<id>`; a view of a parent is a read-only bind
 * mount of the parent itself and has no directory of its own. Works on any file system.
 */
export class NativeBackend implements SnapshotBackend {
  readonly name = 'native';
  private readonly dirs: SnapshotDirectories;

  constructor(readonly root: string) {
    this.dirs = new SnapshotDirectories(root);
  }

  async create(id: number, kind: CreateKind, parents: readonly number[]): Promise<void> {
    if (kind === 'view' && parents.length > 0) return;
    await this.dirs.create(id, async (temp) => {
      await chmod(temp, 0o755);
      if (parents.length > 0) await copyDir(temp, this.dirs.path(parents[0]!));
    });
  }

  mounts(id: number, kind: CreateKind, parents: readonly number[]): Mount[] {
    const source = parents.length === 0 || kind === 'active' ? this.dirs.path(id) : this.dirs.path(parents[0]!);
    return [{ type: 'bind', source, options: ['rbind', kind === 'view' ? 'ro' : 'rw'] }];
  }

  usage(id: number): Promise<SnapshotUsage> {
    return diskUsage(this.dirs.path(id));
  }

  remove(id: number): Promise<void> {
    return this.dirs.remove(id);
  }

  cleanup(keep: (id: number) => boolean): Promise<string[]> {
    return this.dirs.cleanup(keep);
  }
}
