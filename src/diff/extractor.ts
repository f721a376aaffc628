/**
 * Writes tar entries into a root with containerd's archive.Apply semantics (archive/tar.go
 * applyNaive + createTarFile, tar_unix.go, tar_opts_linux.go), under ledgerd's safety rules:
 * every name is validated and resolved inside the root (root-resolver.ts), every final operation
 * is one that does not follow a final symlink (O_NOFOLLOW|O_EXCL, lchown, lsetxattr, utimensat
 * with AT_SYMLINK_NOFOLLOW, mknod/symlink/link/mkdir that create), and directory times set at the
 * end re-resolve their path first.
 */
import {
  chmodSync,
  closeSync,
  fchmodSync,
  fchownSync,
  constants,
  lchownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writevSync,
  type Stats,
} from 'node:fs';
import { type BytePath, bytes, display } from './byte-path.js';
import { LayerFormatError, UnsafeEntryError } from './errors.js';
import { parsePaxInt, parsePaxTime, type PaxRecords } from './pax.js';
import { type ResolvedDir, RootResolver } from './root-resolver.js';
import * as sys from './syscalls.js';
import type { EntryHeader, TarEntrySink } from './tar-reader.js';

export type WhiteoutMode = 'overlay' | 'apply';

export interface ExtractorOptions {
  whiteouts: WhiteoutMode;
  /** Overlay lower directories, nearest first: attributes for parent dirs the layer implies. */
  parents?: string[];
  onWarning?: (message: string) => void;
}

const WHITEOUT_PREFIX = '.wh.';
const WHITEOUT_OPAQUE = '.wh..wh..opq';
const XATTR_PREFIX = 'SCHILY.xattr.';
const DEFAULT_ACL = 'system.posix_acl_default';
const EUID = process.geteuid?.() ?? -1;
const EGID = process.getegid?.() ?? -1;
const MAX_TIME_NS = (1n << 63n) - 1n;
const BATCH = 1024 * 1024;
const HEADER_ONLY = new Set(['link', 'symlink', 'character-device', 'block-device', 'fifo']);
const S_IFMT: Record<string, number> = {
  'character-device': constants.S_IFCHR,
  'block-device': constants.S_IFBLK,
  fifo: constants.S_IFIFO,
};

interface DirTimes {
  rel: string[];
  atime: bigint;
  mtime: bigint;
}

/** A regular file being written: its descriptor, the data not written yet, what to set at its end. */
interface OpenFile {
  fd: number;
  path: BytePath;
  shown: string;
  meta: Meta;
  fileMode: number;
  pax: PaxRecords | null;
  /** The parent directory's host path (its mode decides whether fchown can be skipped). */
  parent: BytePath;
  batch: Buffer[];
  length: number;
}

export class Extractor implements TarEntrySink {
  private readonly resolver: RootResolver;
  private readonly parentResolvers: RootResolver[];
  private readonly dirTimes: DirTimes[] = [];
  /** Host paths this layer unpacked, and their ancestors ('apply' mode, for opaque whiteouts). */
  private readonly keep = new Set<BytePath>();
  private readonly warn: (message: string) => void;
  /**
   * Whether new files can get their final mode from open(2) alone: only the umask then takes
   * bits away. Not in a target that was not empty, nor once a default ACL was set (it replaces
   * the umask for what is created below it).
   */
  private modeFromOpen: boolean | undefined;
  /**
   * Directories whose mode this apply set without setgid: a file created in one is owned by the
   * process's euid and egid, so its fchown is skipped when those are the entry's (with modeFromOpen).
   */
  private readonly plainDirs = new Set<BytePath>();
  /** The regular file whose data is arriving (between begin and end). */
  private file: OpenFile | undefined;
  entries = 0;

  constructor(
    readonly root: BytePath,
    private readonly options: ExtractorOptions,
  ) {
    this.resolver = new RootResolver(root);
    this.parentResolvers = (options.parents ?? []).map((p) => new RootResolver(Buffer.from(p).toString('latin1')));
    this.warn = options.onWarning ?? (() => undefined);
  }

  /** Applies one entry's header; a regular file's data follows (data, end). */
  begin(header: EntryHeader, typeflag: number, pax: PaxRecords | null): void {
    this.entries++;
    this.apply(header, typeflag, pax);
  }

  /** Data of the current entry: kept for a regular file (written in batches of ~1 MiB), ignored otherwise. */
  data(chunk: Buffer): void {
    const file = this.file;
    if (!file) return;
    file.batch.push(chunk);
    file.length += chunk.length;
    if (file.length >= BATCH) flush(file);
  }

  /** The current entry is complete: a regular file gets the rest of its data, then its metadata through the descriptor. */
  end(): void {
    const file = this.file;
    if (!file) return;
    this.file = undefined;
    try {
      flush(file);
      const { fd, meta } = file;
      const ownedFromOpen = this.modeFromOpen && meta.uid === EUID && meta.gid === EGID && this.plainDirs.has(file.parent);
      if (!ownedFromOpen) fchownSync(fd, meta.uid, meta.gid);
      if (file.pax) this.setXattrs(file.path, file.pax, file.shown);
      if (file.fileMode !== meta.mode) fchmodSync(fd, meta.mode); // after chown, which clears setuid/setgid
      sys.futimensNs(fd, file.path, meta.atime, meta.mtime);
    } finally {
      closeSync(file.fd);
    }
    if (this.options.whiteouts === 'apply') this.markKept(file.path);
  }

  /** Closes the file being written, if any (the apply failed). */
  abort(): void {
    const file = this.file;
    this.file = undefined;
    if (file) closeSync(file.fd);
  }

  /** Sets directory times last, as containerd does, so later entries do not disturb them. */
  finish(): void {
    for (const d of this.dirTimes) {
      let resolved: ResolvedDir;
      try {
        resolved = this.resolver.resolveDir(d.rel, d.rel.join('/'));
      } catch {
        continue; // the path now goes through something else; the directory it named is gone
      }
      if (resolved.existing !== d.rel.length || resolved.rel.join('/') !== d.rel.join('/')) continue;
      sys.lutimesNs(this.resolver.host(d.rel), d.atime, d.mtime);
    }
  }

  private apply(header: EntryHeader, typeflag: number, pax: PaxRecords | null): void {
    if (this.modeFromOpen === undefined) {
      this.modeFromOpen = readdirSync(bytes(this.root)).length === 0;
      this.noteDirMode(this.root, lstatSync(bytes(this.root)).mode);
    }
    // PAX path/linkpath taken raw (tar-stream's copies are UTF-8-decoded); other names are latin1 = bytes.
    const name = pax?.has('path') ? pax.get('path')!.toString('latin1') : header.name;
    const linkname = pax?.has('linkpath') ? pax.get('linkpath')!.toString('latin1') : (header.linkname ?? '');
    const shown = display(name);
    const type = header.type;
    if (pax) {
      for (const key of pax.keys()) {
        if (key.startsWith('GNU.sparse.')) throw new LayerFormatError('GNU sparse files are not supported', shown);
      }
    }
    if (type === null || type === 'contiguous-file') {
      throw new LayerFormatError(`unhandled tar header type ${typeflag}`, shown);
    }
    if (HEADER_ONLY.has(type) && header.size > 0) {
      throw new LayerFormatError(`a ${type} entry must not carry data (size ${header.size})`, shown);
    }
    const components = splitName(name, shown);
    if (components.length === 0) return; // resolves to the root itself: skipped, as containerd
    if ((type === 'character-device' || type === 'block-device') && sys.runningInUserNS()) {
      this.warn(`file ${JSON.stringify(shown)} ignored: cannot create a device inside a user namespace`);
      return;
    }

    const base = components.pop()!;
    const parent = this.resolver.resolveDir(components, shown);
    if (parent.existing < parent.rel.length) this.mkparent(parent);
    const rel = [...parent.rel, base];
    const path = this.resolver.host(rel);

    if (base.startsWith(WHITEOUT_PREFIX)) {
      this.whiteout(header, pax, parent.rel, base, shown);
      return;
    }

    const meta = entryMeta(header, pax, shown);
    const fileMode = type === 'file' ? this.createMode(meta.mode) : 0o600;
    let isSymlink = false;
    let fd: number | undefined;
    const create = (): void => {
      switch (type) {
        case 'directory':
          mkdirSync(bytes(path), { mode: meta.mode });
          break;
        case 'file':
          fd = openSync(bytes(path), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, fileMode);
          break;
        case 'symlink':
          symlinkSync(bytes(linkname), bytes(path));
          isSymlink = true;
          break;
        case 'link':
          isSymlink = this.hardlink(linkname, path, shown);
          break;
        case 'character-device':
        case 'block-device':
        case 'fifo':
          sys.mknod(path, meta.mode | S_IFMT[type]!, type === 'fifo' ? 0n : sys.makedev(header.devmajor, header.devminor));
          break;
        default:
          throw new LayerFormatError(`unhandled tar header type ${typeflag}`, shown);
      }
    };
    // containerd removes what is at the path first, unless dir over dir (then metadata merges).
    // Creating first (O_EXCL semantics) and removing only on EEXIST saves an lstat per entry.
    try {
      create();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const existing = lstatSync(bytes(path));
      if (!(existing.isDirectory() && type === 'directory')) {
        this.remove(path, existing);
        create();
      }
    }
    if (type === 'directory') this.resolver.noteDir(rel.join('/'));
    if (isSymlink) this.resolver.noteLayerSymlink(rel.join('/'));

    if (fd !== undefined) {
      // Regular file: data, then metadata through the descriptor (no path lookups), in end().
      this.file = { fd, path, shown, meta, fileMode, pax, parent: this.resolver.host(parent.rel), batch: [], length: 0 };
      return;
    }
    try {
      lchownSync(bytes(path), meta.uid, meta.gid);
    } catch (err) {
      throw new Error(`failed to Lchown ${JSON.stringify(shown)} for UID ${meta.uid}, GID ${meta.gid}: ${(err as Error).message}`);
    }
    if (pax) this.setXattrs(path, pax, shown);
    if (!isSymlink) chmodSync(bytes(path), meta.mode); // after chown, which clears setuid/setgid
    if (type === 'directory') this.noteDirMode(path, meta.mode);
    if (type === 'directory') this.dirTimes.push({ rel, atime: meta.atime, mtime: meta.mtime });
    else sys.lutimesNs(path, meta.atime, meta.mtime);
    if (this.options.whiteouts === 'apply') this.markKept(path);
  }

  /**
   * The mode a new regular file is created with: its final mode when nothing can take bits away
   * and it has no setuid/setgid/sticky bit (those need the fchmod after fchown), so the fchmod is
   * skipped; else 0600 until the fchmod.
   */
  private createMode(mode: number): number {
    return this.modeFromOpen && (mode & 0o7000) === 0 && (mode & sys.umask()) === 0 ? mode : 0o600;
  }

  private noteDirMode(path: BytePath, mode: number): void {
    if (mode & 0o2000) this.plainDirs.delete(path);
    else this.plainDirs.add(path);
  }

  private hardlink(linkname: string, path: BytePath, shown: string): boolean {
    const target = splitName(linkname, shown, 'hardlink target');
    const tbase = target.pop();
    if (tbase === undefined) throw new UnsafeEntryError(shown, 'hardlink-target', 'the target is the root');
    const tdir = this.resolver.resolveDir(target, shown);
    const tpath = this.resolver.host([...tdir.rel, tbase]);
    const st = tdir.existing === tdir.rel.length ? lstatOrNull(tpath) : null;
    if (!st) throw new UnsafeEntryError(shown, 'hardlink-target', `"${display(linkname)}" does not exist`);
    if (st.isDirectory()) throw new UnsafeEntryError(shown, 'hardlink-target', `"${display(linkname)}" is a directory`);
    linkSync(bytes(tpath), bytes(path));
    return st.isSymbolicLink();
  }

  private whiteout(header: EntryHeader, pax: PaxRecords | null, dirRel: string[], base: string, shown: string): void {
    const dir = this.resolver.host(dirRel);
    if (base === WHITEOUT_OPAQUE) {
      if (this.options.whiteouts === 'overlay') {
        sys.lsetxattr(dir, 'trusted.overlay.opaque', Buffer.from('y'));
      } else {
        lstatSync(bytes(dir));
        this.removeUnkept(dir);
      }
      return;
    }
    const original = base.slice(WHITEOUT_PREFIX.length);
    if (original === '' || original === '.' || original === '..') {
      throw new UnsafeEntryError(shown, 'invalid-whiteout', JSON.stringify(display(base)));
    }
    const path = this.resolver.host([...dirRel, original]);
    const existing = lstatOrNull(path);
    if (existing) this.remove(path, existing);
    if (this.options.whiteouts === 'overlay') {
      // overlayfs whiteout: a 0/0 character device, owned as the header says.
      const meta = entryMeta(header, pax, shown);
      sys.mknod(path, constants.S_IFCHR, 0n);
      lchownSync(bytes(path), meta.uid, meta.gid);
    }
  }

  /** 'apply' mode opaque directory: remove everything under `dir` this layer did not unpack. */
  private removeUnkept(dir: BytePath): void {
    const names = readdirSync(bytes(dir), { encoding: 'buffer' })
      .map((n) => n.toString('latin1'))
      .sort();
    for (const name of names) {
      const path = `${dir}/${name}`;
      const st = lstatSync(bytes(path));
      if (!this.keep.has(path)) this.remove(path, st);
      else if (st.isDirectory()) this.removeUnkept(path);
    }
  }

  private markKept(path: BytePath): void {
    for (let p = path; p.length > this.root.length && !this.keep.has(p); p = p.slice(0, p.lastIndexOf('/'))) {
      this.keep.add(p);
    }
  }

  private remove(path: BytePath, st: Stats): void {
    rmSync(bytes(path), { recursive: true, force: true });
    if (st.isDirectory()) this.resolver.forgetDirs();
  }

  /** Creates the missing tail of a resolved parent path (0755, or copied from the overlay parents). */
  private mkparent(parent: ResolvedDir): void {
    for (let i = parent.existing; i < parent.rel.length; i++) {
      const rel = parent.rel.slice(0, i + 1);
      const path = this.resolver.host(rel);
      try {
        mkdirSync(bytes(path), 0o755);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || !lstatSync(bytes(path)).isDirectory()) throw err;
        continue;
      }
      chmodSync(bytes(path), 0o755);
      this.noteDirMode(path, 0o755);
      this.resolver.noteDir(rel.join('/'));
      this.copyParentDirInfo(rel, path);
    }
  }

  private copyParentDirInfo(rel: string[], path: BytePath): void {
    for (const p of this.parentResolvers) {
      let source: BytePath;
      try {
        const dir = p.resolveDir(rel, rel.join('/'));
        if (dir.existing !== dir.rel.length) continue;
        source = p.host(dir.rel);
      } catch (err) {
        if (err instanceof UnsafeEntryError && err.rule === 'not-a-directory') return; // replaced: no copy
        continue;
      }
      const st = lstatSync(bytes(source), { bigint: true });
      lchownSync(bytes(path), Number(st.uid), Number(st.gid));
      chmodSync(bytes(path), Number(st.mode) & 0o7777);
      this.noteDirMode(path, Number(st.mode));
      sys.lutimesNs(path, st.atimeNs, st.mtimeNs);
      for (const key of sys.llistxattr(source)) {
        if (key.startsWith('trusted.')) continue;
        const value = sys.lgetxattr(source, key);
        if (value === null) continue;
        if (key === DEFAULT_ACL) this.modeFromOpen = false;
        try {
          sys.lsetxattr(path, key, value, 1 /* XATTR_CREATE */);
        } catch (err) {
          if (!sys.isErrno(err, sys.ENOTSUP) && !sys.isErrno(err, sys.ENODATA) && (err as { code?: string }).code !== 'EEXIST') throw err;
        }
      }
      return;
    }
  }

  private setXattrs(path: BytePath, pax: PaxRecords, shown: string): void {
    for (const [record, value] of pax) {
      if (!record.startsWith(XATTR_PREFIX)) continue;
      const key = record.slice(XATTR_PREFIX.length);
      if (key.startsWith('trusted.')) {
        this.warn(`ignored xattr ${display(key)} in archive entry ${JSON.stringify(shown)}: admin attributes from archive not supported`);
        continue;
      }
      if (key === DEFAULT_ACL) this.modeFromOpen = false;
      try {
        sys.lsetxattr(path, key, value);
      } catch (err) {
        if (sys.isErrno(err, sys.EPERM) && key.startsWith('user.')) {
          const st = lstatSync(bytes(path));
          if (!st.isFile() && !st.isDirectory()) {
            this.warn(`ignored xattr ${display(key)} in archive entry ${JSON.stringify(shown)}: ${(err as Error).message}`);
            continue;
          }
        }
        if (sys.isErrno(err, sys.ENOTSUP)) {
          this.warn(`ignored xattr ${display(key)} in archive entry ${JSON.stringify(shown)}: ${(err as Error).message}`);
          continue;
        }
        throw new Error(`failed to setxattr ${JSON.stringify(shown)} for key ${display(key)}: ${(err as Error).message}`);
      }
    }
  }
}

/**
 * Splits an archive name into components, refusing what could leave the root: absolute names,
 * ".." components and NUL bytes. "" and "." components (as in "./a//b/") are dropped.
 */
export function splitName(name: string, shown: string, what = 'name'): string[] {
  if (name.includes('\0')) throw new UnsafeEntryError(shown, 'nul-byte', what);
  if (name.startsWith('/')) throw new UnsafeEntryError(shown, 'absolute-path', `${what} ${JSON.stringify(display(name))}`);
  const components = name.split('/').filter((c) => c !== '' && c !== '.');
  if (components.includes('..')) {
    throw new UnsafeEntryError(shown, 'parent-component', `${what} ${JSON.stringify(display(name))}`);
  }
  return components;
}

interface Meta {
  mode: number;
  uid: number;
  gid: number;
  atime: bigint;
  mtime: bigint;
}

/** Owner, mode and times of an entry, PAX records taking precedence as in Go's archive/tar. */
function entryMeta(header: EntryHeader, pax: PaxRecords | null, shown: string): Meta {
  const int = (key: string, fallback: number): number => {
    const v = pax?.get(key);
    const n = v ? parsePaxInt(v, key) : fallback;
    if (!Number.isSafeInteger(n) || n < 0 || n > 0xfffffffe) throw new LayerFormatError(`invalid ${key} ${n}`, shown);
    return n;
  };
  const mtimeSec = header.mtime;
  const mtime = pax?.has('mtime') ? parsePaxTime(pax.get('mtime')!) : Number.isFinite(mtimeSec) ? BigInt(Math.trunc(mtimeSec)) * 1_000_000_000n : 0n;
  const atime = pax?.has('atime') ? parsePaxTime(pax.get('atime')!) : undefined;
  if (!Number.isInteger(header.mode)) throw new LayerFormatError('invalid mode', shown);
  return {
    mode: header.mode & 0o7777,
    uid: int('uid', header.uid),
    gid: int('gid', header.gid),
    // containerd: atime is the later of atime and mtime; times outside [epoch, max] become the epoch.
    atime: boundTime(atime !== undefined && atime > mtime ? atime : mtime),
    mtime: boundTime(mtime),
  };
}

const boundTime = (ns: bigint): bigint => (ns < 0n || ns > MAX_TIME_NS ? 0n : ns);

function lstatOrNull(path: BytePath): Stats | null {
  try {
    return lstatSync(bytes(path));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Writes a file's pending data. */
function flush(file: OpenFile): void {
  if (file.length === 0) return;
  writeAll(file.fd, file.batch, file.length);
  file.batch = [];
  file.length = 0;
}

/**
 * Synchronous on purpose: a thread-pool round trip per write costs more than the write itself
 * into the page cache (measured: 3x slower for small files); batches are at most ~1 MiB, so the
 * event loop is never held for long.
 */
function writeAll(fd: number, buffers: Buffer[], length: number): void {
  let written = writevSync(fd, buffers);
  while (written < length) {
    // Short write: continue from where it stopped.
    written += writevSync(fd, [Buffer.concat(buffers).subarray(written)]);
  }
}
