import { readFileSync } from 'node:fs';
import { mkdtemp, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MNT_DETACH, mountSyscall, unmountSyscall } from './syscall.js';

/**
 * A mount as containerd describes it (api/types/mount.proto): what to mount, not where. The
 * target is empty in everything a snapshotter returns; the caller picks the mount point.
 */
export interface Mount {
  readonly type: string;
  readonly source: string;
  readonly target?: string;
  readonly options: readonly string[];
}

/** The kernel's limit on mount data is one page; containerd compacts lowerdir 512 bytes before it. */
const PAGE_SIZE = 4096;

export class MountError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MountError';
  }
}

/**
 * Mounts one mount on `target` with mount(2), as containerd's mount.Mount (a bind with `ro` is
 * remounted read-only). mount(8) does what needs a helper or a working directory: loop devices,
 * FUSE, and long overlay lowerdir lists, shortened as containerd's compactLowerdirOption does
 * (relative to their common parent, with mount(8) run in that directory).
 */
export async function mount(m: Mount, target: string): Promise<void> {
  let options = [...m.options];
  let cwd: string | undefined;
  if (m.type === 'overlay' && options.join(',').length >= PAGE_SIZE - 512) {
    ({ cwd, options } = compactLowerdir(options));
  }
  if (cwd === undefined && !options.includes('loop') && !m.type.startsWith('fuse')) {
    try {
      return mountSyscall(m.type, m.source, target, options);
    } catch (err) {
      throw new MountError((err as Error).message);
    }
  }
  const args = ['-t', m.type, m.source, target];
  if (options.length > 0) args.push('-o', options.join(','));
  // loaded here, not with the module: a shim that never needs mount(8) is ~5 MiB smaller without it
  const { execa } = await import('execa');
  const result = await execa('mount', args, { cwd, reject: false, stdin: 'ignore' });
  if (result.exitCode !== 0) {
    throw new MountError(`mount -t ${m.type} ${m.source} ${target}: ${String(result.stderr).trim() || `exit ${result.exitCode}`}`);
  }
}

/** Mounts every mount on `target` in order; on failure, what was mounted is unmounted again. */
export async function mountAll(mounts: readonly Mount[], target: string): Promise<void> {
  let done = 0;
  try {
    for (const m of mounts) {
      await mount(m, target);
      done++;
    }
  } catch (err) {
    for (; done > 0; done--) await unmount(target).catch(() => {});
    throw err;
  }
}

/** Unmounts the topmost mount on `target`; a target that is not a mount point is left alone. */
export async function unmount(target: string, options: { lazy?: boolean } = {}): Promise<void> {
  if (!isMountPoint(target)) return;
  const error = await unmountSyscall(target, options.lazy ? MNT_DETACH : 0);
  if (error && isMountPoint(target)) throw new MountError(`umount ${target}: ${error}`);
}

/** Unmounts everything stacked on `target` (containerd's UnmountAll). */
export async function unmountAll(target: string): Promise<void> {
  for (let i = 0; i < 64 && isMountPoint(target); i++) await unmount(target);
  if (isMountPoint(target)) throw new MountError(`umount ${target}: still mounted`);
}

/**
 * Runs `fn` with the mounts mounted on a fresh temporary directory, then unmounts them and
 * removes the directory, whatever `fn` did (containerd's mount.WithTempMount).
 */
export async function withTempMount<T>(mounts: readonly Mount[], fn: (root: string) => Promise<T>, parent = tmpdir()): Promise<T> {
  const root = await mkdtemp(join(parent, 'ledgerd-mount-'));
  try {
    await mountAll(mounts, root);
    try {
      return await fn(root);
    } finally {
      await unmountAll(root);
    }
  } finally {
    await rmdir(root).catch(() => {});
  }
}

/** Whether `path` is a mount point of this mount namespace (from /proc/self/mountinfo). */
export function isMountPoint(path: string): boolean {
  return mountPoints().has(path.replace(/\/+$/, '') || '/');
}

/** Every mount point under `prefix` (itself included), deepest first: what to unmount, in order. */
export function mountPointsUnder(prefix: string): string[] {
  const base = prefix.replace(/\/+$/, '');
  return [...mountPointsInOrder()].filter((p) => p === base || p.startsWith(`${base}/`)).reverse();
}

function mountPoints(): Set<string> {
  return new Set(mountPointsInOrder());
}

/** Mount points in mount order. */
function mountPointsInOrder(): string[] {
  return mountTable().map((m) => m.mountPoint);
}

/** A line of /proc/self/mountinfo: where, and its optional fields (shared:N, master:N, ...). */
export interface MountInfo {
  readonly mountPoint: string;
  readonly optional: readonly string[];
}

/** This mount namespace's mounts in mount order; mountinfo escapes space, tab, newline and backslash as octal. */
function mountTable(): MountInfo[] {
  const unescape = (field: string) => field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const fields = line.split(' ');
      return { mountPoint: unescape(fields[4]!), optional: fields.slice(6, fields.indexOf('-', 6)) };
    });
}

/**
 * The mount that `path` (symlinks resolved) lies on: the deepest mount point above it, and of
 * several mounted there the last, which hides the others.
 */
export function mountHolding(path: string): MountInfo {
  const inside = (mountPoint: string) => mountPoint === '/' || path === mountPoint || path.startsWith(`${mountPoint}/`);
  let found: MountInfo | undefined;
  for (const m of mountTable()) {
    if (inside(m.mountPoint) && (!found || m.mountPoint.length >= found.mountPoint.length)) found = m;
  }
  if (!found) throw new Error(`no mount holds ${path}`);
  return found;
}

/** containerd's compactLowerdirOption: lowerdirs relative to the parent of their common prefix. */
export function compactLowerdir(options: readonly string[]): { cwd: string | undefined; options: string[] } {
  const index = options.findIndex((o) => o.startsWith('lowerdir='));
  if (index === -1) return { cwd: undefined, options: [...options] };
  const dirs = options[index]!.slice('lowerdir='.length).split(':');
  if (dirs.length === 1) return { cwd: undefined, options: [...options] };
  let common = dirs.reduce((prefix, dir) => {
    let i = 0;
    while (i < prefix.length && i < dir.length && prefix[i] === dir[i]) i++;
    return prefix.slice(0, i);
  });
  if (common === '') return { cwd: undefined, options: [...options] };
  // ids are digits: step back to the directory that holds them (…/snapshots), as Go's path.Dir
  common = common.slice(0, common.lastIndexOf('/')) || '/';
  if (common === '/') return { cwd: undefined, options: [...options] };
  common += '/';
  const rest = options.filter((_, i) => i !== index);
  return { cwd: common, options: [...rest, `lowerdir=${dirs.map((d) => d.slice(common.length)).join(':')}`] };
}
