/**
 * Filesystem changes between two trees, as continuity's fs.Changes computes them for containerd
 * 1.6's walking differ (doubleWalkDiff): both trees are walked in the same order and compared path
 * by path; a deleted directory hides its children, an unchanged hardlinked file is reported as
 * "unmodified" so the tar writer can keep its links. `overlayChanges` reads an overlayfs upperdir
 * instead: 0/0 character devices are deletions, trusted.overlay.opaque=y dirs are opaque.
 */
import { type BigIntStats, readlinkSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { type BytePath, bytes, display } from './byte-path.js';
import * as sys from './syscalls.js';
import { type WalkEntry, walkTree } from './walk.js';

export type ChangeKind = 'add' | 'modify' | 'delete' | 'unmodified' | 'opaque';

export interface Change {
  kind: ChangeKind;
  /** "/a/b" relative to the trees. */
  path: BytePath;
  /** The upper file's stat (the lower one's for deletions). */
  st: BigIntStats;
}

const SEC = 1_000_000_000n;
const floorDiv = (a: bigint, b: bigint): bigint => (a >= 0n ? a / b : -((-a + b - 1n) / b));

/** continuity's directoryCompare: byte order with "/" sorting before every other byte. */
export function directoryCompare(a: string, b: string): number {
  const l = Math.min(a.length, b.length);
  for (let i = 0; i < l; i++) {
    let c1 = a.charCodeAt(i);
    let c2 = b.charCodeAt(i);
    if (c1 === 0x2f) c1 = 0;
    if (c2 === 0x2f) c2 = 0;
    if (c1 !== c2) return c1 < c2 ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

const isLinked = (st: BigIntStats): boolean => !st.isDirectory() && st.nlink > 1n;

export async function* doubleWalkChanges(lower: BytePath, upper: BytePath): AsyncGenerator<Change> {
  const w1 = walkTree(lower);
  const w2 = walkTree(upper);
  let f1: WalkEntry | undefined;
  let f2: WalkEntry | undefined;
  let done1 = false;
  let done2 = false;
  let rmdir = '';
  for (;;) {
    if (!f1 && !done1) {
      const r = w1.next();
      if (r.done) done1 = true;
      else f1 = r.value;
    }
    if (!f2 && !done2) {
      const r = w2.next();
      if (r.done) done2 = true;
      else f2 = r.value;
    }
    if (!f1 && !f2) return;

    const cmp = !f1 ? 1 : !f2 ? -1 : directoryCompare(f1.path, f2.path);
    if (cmp > 0) {
      rmdir = '';
      const f = f2!;
      f2 = undefined;
      yield { kind: 'add', path: f.path, st: f.st };
    } else if (cmp < 0) {
      const f = f1!;
      f1 = undefined;
      // Already removed with a deleted directory above it?
      if (rmdir !== '' && f.path.startsWith(rmdir)) continue;
      rmdir = f.st.isDirectory() ? `${f.path}/` : '';
      yield { kind: 'delete', path: f.path, st: f.st };
    } else {
      const a = f1!;
      const b = f2!;
      f1 = f2 = undefined;
      const same = await sameFile(a, b);
      rmdir = a.st.isDirectory() && !b.st.isDirectory() ? `${a.path}/` : '';
      if (same) {
        if (!isLinked(b.st)) continue;
        yield { kind: 'unmodified', path: b.path, st: b.st };
      } else {
        yield { kind: 'modify', path: b.path, st: b.st };
      }
    }
  }
}

/** Changes recorded in an overlayfs upperdir (no walk of the lower layers needed). */
export async function* overlayChanges(upperdir: BytePath): AsyncGenerator<Change> {
  for (const f of walkTree(upperdir)) {
    if (f.st.isCharacterDevice() && f.st.rdev === 0n) {
      yield { kind: 'delete', path: f.path, st: f.st };
      continue;
    }
    for (const key of ['trusted.overlay.redirect', 'trusted.overlay.metacopy']) {
      if (sys.lgetxattr(f.full, key) !== null) {
        throw new Error(`overlay upperdir entry ${JSON.stringify(display(f.path))} has ${key}: redirect_dir/metacopy upperdirs are not supported`);
      }
    }
    yield { kind: 'add', path: f.path, st: f.st };
    if (f.st.isDirectory() && sys.lgetxattr(f.full, 'trusted.overlay.opaque')?.toString() === 'y') {
      yield { kind: 'opaque', path: f.path, st: f.st };
    }
  }
}

/** continuity's sameFile. */
async function sameFile(a: WalkEntry, b: WalkEntry): Promise<boolean> {
  const s1 = a.st;
  const s2 = b.st;
  if (s1.dev === s2.dev && s1.ino === s2.ino) return true;
  if (s1.mode !== s2.mode || s1.uid !== s2.uid || s1.gid !== s2.gid || s1.rdev !== s2.rdev) return false;
  const c1 = sys.lgetxattr(a.full, 'security.capability');
  const c2 = sys.lgetxattr(b.full, 'security.capability');
  if (!(c1 ?? Buffer.alloc(0)).equals(c2 ?? Buffer.alloc(0))) return false;
  if (s1.isDirectory()) return true;
  if (s1.size !== s2.size) return false;
  if (floorDiv(s1.mtimeNs, SEC) !== floorDiv(s2.mtimeNs, SEC)) return false;
  const n1 = s1.mtimeNs - floorDiv(s1.mtimeNs, SEC) * SEC;
  const n2 = s2.mtimeNs - floorDiv(s2.mtimeNs, SEC) * SEC;
  if (n1 === 0n && n2 === 0n) {
    if (s1.isSymbolicLink()) {
      return readlinkSync(bytes(a.full), { encoding: 'buffer' }).equals(readlinkSync(bytes(b.full), { encoding: 'buffer' }));
    }
    if (s1.size === 0n) return true;
    return sameContent(a.full, b.full);
  }
  return n1 === n2;
}

async function sameContent(p1: BytePath, p2: BytePath): Promise<boolean> {
  const opened = await Promise.allSettled([open(bytes(p1)), open(bytes(p2))]);
  const failed = opened.find((o) => o.status === 'rejected');
  if (failed) {
    // the other file is open: close it before giving up
    await Promise.all(opened.map((o) => (o.status === 'fulfilled' ? o.value.close() : undefined)));
    throw failed.reason;
  }
  const [h1, h2] = opened.map((o) => (o as PromiseFulfilledResult<FileHandle>).value) as [FileHandle, FileHandle];
  try {
    const b1 = Buffer.alloc(256 * 1024);
    const b2 = Buffer.alloc(256 * 1024);
    for (;;) {
      const [r1, r2] = await Promise.all([h1.read(b1, 0, b1.length), h2.read(b2, 0, b2.length)]);
      if (r1.bytesRead !== r2.bytesRead || !b1.subarray(0, r1.bytesRead).equals(b2.subarray(0, r2.bytesRead))) return false;
      if (r1.bytesRead === 0) return true;
    }
  } finally {
    await Promise.all([h1.close(), h2.close()]);
  }
}
