// Inode flags (FS_IOC_GETFLAGS / FS_IOC_SETFLAGS, what lsattr shows and chattr sets), through koffi.
import { closeSync, constants, openSync } from 'node:fs';
import { bindLibc, koffi } from './libc.js';

const FS_IOC_GETFLAGS = 0x80086601;
const FS_IOC_SETFLAGS = 0x40086602;
/** chattr +T: the directory is the top of directory hierarchies, for ext4's Orlov allocator. */
const FS_TOPDIR_FL = 0x00020000;

const libc = bindLibc<{ ioctl(fd: number, request: number, ...args: unknown[]): number }>({
  ioctl: 'int ioctl(int fd, unsigned long request, ...)',
});

function withDir<T>(dir: string, fn: (fd: number) => T): T {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    return fn(fd);
  } finally {
    closeSync(fd);
  }
}

/** The inode's flags, or null where the filesystem has none (anything but ext2/3/4 and a few). */
function getFlags(fd: number): number | null {
  const flags = new Uint32Array(1);
  const k = koffi();
  return libc().ioctl(fd, FS_IOC_GETFLAGS, k.out(k.pointer('uint32_t')), flags) === 0 ? flags[0]! : null;
}

/** Whether `dir` is marked as the top of directory hierarchies; null where the filesystem has no such flag. */
export function isTopOfHierarchies(dir: string): boolean | null {
  return withDir(dir, (fd) => {
    const flags = getFlags(fd);
    return flags === null ? null : (flags & FS_TOPDIR_FL) !== 0;
  });
}

/**
 * Marks `dir` as the top of directory hierarchies (chattr +T), so that ext4 places each directory
 * created in it in a block group of its own choosing with many free inodes, as it does for
 * directories in a filesystem's root, instead of next to `dir`. Why it matters: on ext4 without a
 * journal the inode allocator steps over every free inode of a group that was deleted in the last
 * 5 to 300 seconds (ialloc.c recently_deleted), one buffer lookup each, so creating thousands of
 * files next to thousands just removed (a layer unpacked after an image was removed) costs
 * hundreds of microseconds a file instead of a few. Returns false where the filesystem has no
 * such flag: the directory is left as it was.
 */
export function markTopOfHierarchies(dir: string): boolean {
  return withDir(dir, (fd) => {
    const flags = getFlags(fd);
    if (flags === null) return false;
    if (flags & FS_TOPDIR_FL) return true;
    return libc().ioctl(fd, FS_IOC_SETFLAGS, 'uint32_t *', new Uint32Array([flags | FS_TOPDIR_FL])) === 0;
  });
}
