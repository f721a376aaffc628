import { existsSync, readFileSync, statfsSync } from 'node:fs';
import { chown, lstat, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { release } from 'node:os';
import { join } from 'node:path';
import { mount, unmountAll, type Mount } from '../util/mount/index.js';
import type { CreateKind, SnapshotBackend } from './backend.js';
import { diskUsage } from './disk-usage.js';
import { SnapshotDirectories } from './directories.js';
import type { SnapshotUsage } from './snapshotter.js';

/**
 * The overlayfs snapshotter's storage (containerd's snapshots/overlay): `snapshots/<id>/fs` is
 * the layer (the upper directory while active), `snapshots/<id>/work` the overlay work directory
 * of an active snapshot. Mounts: a bind mount when there is nothing to overlay, else overlay
 * with the ancestors' `fs` as lowerdir, nearest first.
 */
export class OverlayBackend implements SnapshotBackend {
  readonly name = 'overlayfs';
  private readonly dirs: SnapshotDirectories;

  private constructor(
    readonly root: string,
    /** Options every overlay mount starts with: index=off, userxattr where needed. */
    private readonly baseOptions: readonly string[],
  ) {
    this.dirs = new SnapshotDirectories(root);
  }

  /** Opens the storage in `root`; fails (the plugin is skipped) when overlay cannot be mounted here. */
  static async open(root: string): Promise<OverlayBackend> {
    await checkOverlay(root);
    const options: string[] = [];
    if (existsSync('/sys/module/overlay/parameters/index')) options.push('index=off');
    if (await needsUserXattr(root)) options.push('userxattr');
    return new OverlayBackend(root, options);
  }

  async create(id: number, kind: CreateKind, parents: readonly number[]): Promise<void> {
    // side by side: each step is a thread-pool round trip, a few ms apiece on a busy disk
    await this.dirs.create(id, async (temp) => {
      const upper = async () => {
        const [, parent] = await Promise.all([mkdir(join(temp, 'fs'), { mode: 0o755 }), parents.length > 0 ? lstat(this.upperPath(parents[0]!)) : undefined]);
        if (parent) await chown(join(temp, 'fs'), parent.uid, parent.gid);
      };
      // both settle before a failure is thrown: the temporary directory is removed after it
      const steps = await Promise.allSettled([upper(), kind === 'active' ? mkdir(join(temp, 'work'), { mode: 0o711 }) : undefined]);
      for (const step of steps) if (step.status === 'rejected') throw step.reason;
    });
  }

  mounts(id: number, kind: CreateKind, parents: readonly number[]): Mount[] {
    if (parents.length === 0) {
      return [{ type: 'bind', source: this.upperPath(id), options: [kind === 'view' ? 'ro' : 'rw', 'rbind'] }];
    }
    if (kind === 'view' && parents.length === 1) {
      return [{ type: 'bind', source: this.upperPath(parents[0]!), options: ['ro', 'rbind'] }];
    }
    const options = [...this.baseOptions];
    if (kind === 'active') options.push(`workdir=${this.workPath(id)}`, `upperdir=${this.upperPath(id)}`);
    options.push(`lowerdir=${parents.map((p) => this.upperPath(p)).join(':')}`);
    return [{ type: 'overlay', source: 'overlay', options }];
  }

  usage(id: number): Promise<SnapshotUsage> {
    return diskUsage(this.upperPath(id));
  }

  remove(id: number): Promise<void> {
    return this.dirs.remove(id);
  }

  cleanup(keep: (id: number) => boolean): Promise<string[]> {
    return this.dirs.cleanup(keep);
  }

  upperPath(id: number): string {
    return join(this.dirs.path(id), 'fs');
  }

  workPath(id: number): string {
    return join(this.dirs.path(id), 'work');
  }
}

/**
 * containerd's SupportsMultipleLowerDir: mount an overlay with two lower directories in the
 * root's file system and unmount it. Failing here means the kernel (or the backing file system)
 * cannot run this snapshotter.
 */
export async function checkOverlay(root: string): Promise<void> {
  await mkdir(root, { recursive: true, mode: 0o700 });
  const td = await mkdtemp(join(root, 'multiple-lowerdir-check'));
  try {
    for (const dir of ['lower1', 'lower2', 'upper', 'work', 'merged']) await mkdir(join(td, dir), { mode: 0o755 });
    const options = [`lowerdir=${join(td, 'lower2')}:${join(td, 'lower1')}`, `upperdir=${join(td, 'upper')}`, `workdir=${join(td, 'work')}`];
    const merged = join(td, 'merged');
    try {
      await mount({ type: 'overlay', source: 'overlay', options }, merged);
    } catch (err) {
      throw new Error(`failed to mount overlay: ${(err as Error).message}`);
    }
    await unmountAll(merged);
  } finally {
    await rm(td, { recursive: true, force: true });
  }
}

/** containerd's userns.RunningInUserNS: the uid map is not the identity map of the whole range. */
function runningInUserNS(): boolean {
  try {
    const fields = readFileSync('/proc/self/uid_map', 'utf8').trim().split(/\s+/);
    return !(fields.length === 3 && fields[0] === '0' && fields[1] === '0' && fields[2] === '4294967295');
  } catch {
    return false;
  }
}

const TMPFS_MAGIC = 0x01021994;

/**
 * containerd's overlayutils.NeedsUserXAttr: only inside a user namespace, never on tmpfs; from
 * Linux 5.11 on it is needed, before that it is tried.
 */
async function needsUserXattr(root: string): Promise<boolean> {
  if (!runningInUserNS()) return false;
  if (statfsSync(root).type === TMPFS_MAGIC) return false;
  const [major = 0, minor = 0] = release().split(/[.-]/).map(Number);
  if (major > 5 || (major === 5 && minor >= 11)) return true;
  const td = await mkdtemp(join(root, 'userxattr-check'));
  try {
    for (const dir of ['lower1', 'lower2', 'upper', 'work', 'merged']) await mkdir(join(td, dir), { mode: 0o755 });
    const options = [`lowerdir=${join(td, 'lower2')}:${join(td, 'lower1')}`, `upperdir=${join(td, 'upper')}`, `workdir=${join(td, 'work')}`, 'userxattr'];
    await mount({ type: 'overlay', source: 'overlay', options }, join(td, 'merged'));
    await unmountAll(join(td, 'merged'));
    return true;
  } catch {
    return false;
  } finally {
    await rm(td, { recursive: true, force: true });
  }
}
