/**
 * The few system calls node:fs lacks, through koffi: mknod, the l*xattr family and utimensat with
 * nanoseconds. Paths are byte strings (byte-path.ts); failures throw errors shaped like node:fs
 * errors (`code`, `errno`, `syscall`, `path`).
 */
import { readFileSync } from 'node:fs';
import { type BytePath, cString, display } from './byte-path.js';
import { errnoName } from '../util/errno.js';
import { bindLibc, lastErrno, type LibcFn } from '../util/libc.js';

const AT_FDCWD = -100;
const AT_SYMLINK_NOFOLLOW = 0x100;
export const ENODATA = 61;
export const ENOTSUP = 95;
export const EPERM = 1;
const ERANGE = 34;

const lib = bindLibc<Record<'mknod' | 'lsetxattr' | 'lgetxattr' | 'llistxattr' | 'utimensat' | 'futimens', LibcFn>>({
  mknod: 'int mknod(const uint8_t *path, uint32_t mode, uint64_t dev)',
  lsetxattr: 'int lsetxattr(const uint8_t *path, const uint8_t *name, const uint8_t *value, size_t size, int flags)',
  lgetxattr: 'intptr_t lgetxattr(const uint8_t *path, const uint8_t *name, _Out_ uint8_t *value, size_t size)',
  llistxattr: 'intptr_t llistxattr(const uint8_t *path, _Out_ uint8_t *list, size_t size)',
  utimensat: 'int utimensat(int dirfd, const uint8_t *path, const int64_t *times, int flags)',
  futimens: 'int futimens(int fd, const int64_t *times)',
});

/** An Error like node:fs throws. */
export interface SysError extends Error {
  errno: number;
  code: string;
  syscall: string;
  path: string;
}

function fail(syscall: string, path: BytePath): never {
  const errno = lastErrno();
  const code = errnoName(errno) ?? `E${errno}`;
  const err = new Error(`${code}: ${syscall} ${JSON.stringify(display(path))} failed (errno ${errno})`) as SysError;
  err.errno = errno;
  err.code = code;
  err.syscall = syscall;
  err.path = display(path);
  throw err;
}

export const isErrno = (err: unknown, errno: number): boolean => (err as Partial<SysError>)?.errno === errno;

/** glibc's makedev encoding of a device number. */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major >>> 0);
  const mi = BigInt(minor >>> 0);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) | (mi & 0xffn);
}

/** glibc's major()/minor() of a device number. */
export function major(dev: bigint): number {
  return Number(((dev >> 32n) & 0xfffff000n) | ((dev >> 8n) & 0xfffn));
}
export function minor(dev: bigint): number {
  return Number(((dev >> 12n) & 0xffffff00n) | (dev & 0xffn));
}

export function mknod(path: BytePath, mode: number, dev: bigint): void {
  if (lib().mknod(cString(path), mode, dev) !== 0) fail('mknod', path);
}

/** lsetxattr(2): never follows a final symlink. */
export function lsetxattr(path: BytePath, name: BytePath, value: Buffer, flags = 0): void {
  if (lib().lsetxattr(cString(path), cString(name), value, value.length, flags) !== 0) fail('lsetxattr', path);
}

/** lgetxattr(2); null when the attribute is absent or the filesystem has no xattrs. */
export function lgetxattr(path: BytePath, name: BytePath): Buffer | null {
  let size = 256;
  for (;;) {
    const out = Buffer.alloc(size);
    const n = lib().lgetxattr(cString(path), cString(name), out, size);
    if (n >= 0) return out.subarray(0, n);
    const errno = lastErrno();
    if (errno === ENODATA || errno === ENOTSUP) return null;
    if (errno === ERANGE && size < 1 << 20) {
      size *= 16;
      continue;
    }
    fail('lgetxattr', path);
  }
}

/** llistxattr(2): attribute names as byte strings; [] when the filesystem has none. */
export function llistxattr(path: BytePath): BytePath[] {
  let size = 1024;
  for (;;) {
    const out = Buffer.alloc(size);
    const n = lib().llistxattr(cString(path), out, size);
    if (n >= 0) return out.subarray(0, n).toString('latin1').split('\0').filter((s) => s !== '');
    const errno = lastErrno();
    if (errno === ENOTSUP) return [];
    if (errno === ERANGE && size < 1 << 20) {
      size *= 16;
      continue;
    }
    fail('llistxattr', path);
  }
}

/** utimensat(AT_FDCWD, path, [atime, mtime], AT_SYMLINK_NOFOLLOW) with nanosecond times. */
export function lutimesNs(path: BytePath, atimeNs: bigint, mtimeNs: bigint): void {
  if (lib().utimensat(AT_FDCWD, cString(path), timespecs(atimeNs, mtimeNs), AT_SYMLINK_NOFOLLOW) !== 0) fail('utimensat', path);
}

/** futimens(2) with nanosecond times; `path` only names the file in errors. */
export function futimensNs(fd: number, path: BytePath, atimeNs: bigint, mtimeNs: bigint): void {
  if (lib().futimens(fd, timespecs(atimeNs, mtimeNs)) !== 0) fail('futimens', path);
}

/** One array for every call (they are synchronous): a typed array per file was ~7 % of an unpack's allocations. */
const TIMES = new BigInt64Array(4);
function timespecs(a: bigint, m: bigint): BigInt64Array {
  TIMES[0] = a / 1_000_000_000n;
  TIMES[1] = a % 1_000_000_000n;
  TIMES[2] = m / 1_000_000_000n;
  TIMES[3] = m % 1_000_000_000n;
  return TIMES;
}

let mask: number | undefined;
/** The process's umask, from /proc (process.umask() without an argument is deprecated); 0o777 if unreadable. */
export function umask(): number {
  if (mask === undefined) {
    const line = /^Umask:\s*([0-7]+)$/m.exec(readFileSyncOrEmpty('/proc/self/status'));
    mask = line ? parseInt(line[1]!, 8) : 0o777;
  }
  return mask;
}

function readFileSyncOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

let userns: boolean | undefined;
/** containerd's userns.RunningInUserNS: true unless uid_map is the full identity map. */
export function runningInUserNS(): boolean {
  if (userns === undefined) {
    try {
      const line = readFileSync('/proc/self/uid_map', 'utf8').trim().split(/\s+/);
      userns = !(line.length === 3 && line[0] === '0' && line[1] === '0' && line[2] === '4294967295');
    } catch {
      userns = false;
    }
  }
  return userns;
}
