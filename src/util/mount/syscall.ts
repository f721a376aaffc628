// mount(2) and umount2(2) through koffi (libc), as containerd's mount.Mount calls them: no
// mount(8) process per mount. Options are split into flags and file-system data by containerd's
// table (mount_linux.go parseMountOptions). Loaded on first use.
import { errnoName } from '../errno.js';
import { bindLibc, lastErrno } from '../libc.js';

interface Calls {
  mount: (source: string, target: string, type: string | null, flags: number, data: string | null) => number;
  umount2: (target: string, flags: number) => number;
}

export const MS_RDONLY = 0x1;
const MS_NOSUID = 0x2;
const MS_NODEV = 0x4;
const MS_NOEXEC = 0x8;
const MS_SYNCHRONOUS = 0x10;
export const MS_REMOUNT = 0x20;
const MS_MANDLOCK = 0x40;
const MS_DIRSYNC = 0x80;
const MS_NOATIME = 0x400;
const MS_NODIRATIME = 0x800;
export const MS_BIND = 0x1000;
const MS_REC = 0x4000;
const MS_SILENT = 0x8000;
const MS_UNBINDABLE = 0x20000;
const MS_PRIVATE = 0x40000;
const MS_SLAVE = 0x80000;
const MS_SHARED = 0x100000;
const MS_RELATIME = 0x200000;
const MS_STRICTATIME = 0x1000000;
export const MNT_DETACH = 0x2;

/** Option -> [clears the flag, flag]; anything else is file-system data. */
const FLAG_OPTIONS: Readonly<Record<string, readonly [boolean, number]>> = {
  async: [true, MS_SYNCHRONOUS],
  atime: [true, MS_NOATIME],
  bind: [false, MS_BIND],
  defaults: [false, 0],
  dev: [true, MS_NODEV],
  diratime: [true, MS_NODIRATIME],
  dirsync: [false, MS_DIRSYNC],
  exec: [true, MS_NOEXEC],
  mand: [false, MS_MANDLOCK],
  noatime: [false, MS_NOATIME],
  nodev: [false, MS_NODEV],
  nodiratime: [false, MS_NODIRATIME],
  noexec: [false, MS_NOEXEC],
  nomand: [true, MS_MANDLOCK],
  norelatime: [true, MS_RELATIME],
  nostrictatime: [true, MS_STRICTATIME],
  nosuid: [false, MS_NOSUID],
  rbind: [false, MS_BIND | MS_REC],
  relatime: [false, MS_RELATIME],
  remount: [false, MS_REMOUNT],
  ro: [false, MS_RDONLY],
  rw: [true, MS_RDONLY],
  strictatime: [false, MS_STRICTATIME],
  suid: [true, MS_NOSUID],
  sync: [false, MS_SYNCHRONOUS],
  // propagation, applied by a second call as containerd does
  shared: [false, MS_SHARED],
  rshared: [false, MS_SHARED | MS_REC],
  private: [false, MS_PRIVATE],
  rprivate: [false, MS_PRIVATE | MS_REC],
  slave: [false, MS_SLAVE],
  rslave: [false, MS_SLAVE | MS_REC],
  unbindable: [false, MS_UNBINDABLE],
  runbindable: [false, MS_UNBINDABLE | MS_REC],
};
const PROPAGATION = MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE;

export function parseMountOptions(options: readonly string[]): { flags: number; data: string } {
  let flags = 0;
  const data: string[] = [];
  for (const option of options) {
    const known = FLAG_OPTIONS[option];
    if (known && known[1] !== 0) flags = known[0] ? flags & ~known[1] : flags | known[1];
    else if (!known) data.push(option);
  }
  return { flags, data: data.join(',') };
}

const libc = bindLibc<Calls>({
  mount: 'int mount(const char *source, const char *target, const char *type, unsigned long flags, const char *data)',
  umount2: 'int umount2(const char *target, int flags)',
});

export class SyscallError extends Error {
  constructor(
    readonly syscall: string,
    readonly code: string,
    detail: string,
  ) {
    super(`${syscall} ${detail}: ${code}`);
    this.name = 'SyscallError';
  }
}

function check(result: number, syscall: string, detail: string): void {
  if (result === 0) return;
  const errno = lastErrno();
  throw new SyscallError(syscall, errnoName(errno) ?? `errno ${errno}`, detail);
}

/**
 * containerd's Mount.Mount for one mount: the mount itself, then its propagation, then the
 * read-only remount a bind mount needs for `ro` to apply.
 */
export function mountSyscall(type: string, source: string, target: string, options: readonly string[]): void {
  const { flags, data } = parseMountOptions(options);
  const mountFlags = flags & ~PROPAGATION;
  const describe = `-t ${type} ${source} ${target}`;
  if ((flags & MS_REMOUNT) === 0 || data !== '') check(libc().mount(source, target, type, mountFlags, data || null), 'mount', describe);
  if (flags & PROPAGATION) check(libc().mount('', target, null, flags & (PROPAGATION | MS_REC | MS_SILENT), null), 'mount', `${describe} (propagation)`);
  if ((mountFlags & (MS_BIND | MS_RDONLY)) === (MS_BIND | MS_RDONLY)) check(libc().mount('', target, null, mountFlags | MS_REMOUNT, null), 'mount', `${describe} (read-only remount)`);
}

/** umount2; EBUSY is retried (50 times, 50 ms apart) as containerd does. Returns the error code, if any. */
export async function unmountSyscall(target: string, flags: number): Promise<string | undefined> {
  for (let attempt = 0; ; attempt++) {
    if (libc().umount2(target, flags) === 0) return undefined;
    const code = errnoName(lastErrno()) ?? 'EUNKNOWN';
    if (code !== 'EBUSY' || attempt >= 49) return code;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
