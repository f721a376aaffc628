/**
 * containerd's archive.ChangeWriter: turns filesystem changes into OCI layer tar entries.
 * Deletions become ".wh.<name>" (empty regular files stamped with the writer's start time, to
 * the second); opaque directories get ".wh..wh..opq"; parent directories of every entry are
 * written first (once); sockets are skipped; hardlinked files are written once and linked after;
 * only the security.capability xattr is carried; owners are numeric, without names; mtimes are
 * truncated to the second.
 */
import { type BigIntStats, lstatSync, readlinkSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { type BytePath, bytes, display } from './byte-path.js';
import type { Change, ChangeKind } from './changes.js';
import * as sys from './syscalls.js';
import { encodeHeader, padding, type TarHeader, trailer, type TypeFlag } from './tar-writer.js';

const READ_CHUNK = 1024 * 1024;
const floorSec = (ns: bigint): number => Number(ns >= 0n ? ns / 1_000_000_000n : -((-ns + 999_999_999n) / 1_000_000_000n));

export class ChangeWriter {
  private readonly whiteoutTime = Math.round(Date.now() / 1000);
  private readonly inodeSource = new Map<string, BytePath>();
  private readonly inodeRefs = new Map<string, BytePath[]>();
  private readonly addedDirs = new Set<BytePath>();

  /** `source`: the tree file contents and parent directories are read from. */
  constructor(private readonly source: BytePath) {}

  async *write(changes: AsyncIterable<Change>, signal?: AbortSignal): AsyncGenerator<Buffer> {
    for await (const c of changes) {
      signal?.throwIfAborted();
      yield* this.handle(c.kind, c.path, c.st);
    }
    yield trailer();
  }

  private async *handle(kind: ChangeKind, p: BytePath, st: BigIntStats): AsyncGenerator<Buffer> {
    if (kind === 'delete' || kind === 'opaque') {
      const slash = p.lastIndexOf('/');
      const name = kind === 'opaque' ? `${p.slice(1)}/.wh..wh..opq` : `${p.slice(1, slash + 1)}.wh.${p.slice(slash + 1)}`;
      const hdr: TarHeader = { name, typeflag: '0', mode: 0, uid: 0, gid: 0, size: 0, mtime: this.whiteoutTime };
      yield* this.includeParents(hdr);
      yield* encodeHeader(hdr);
      return;
    }
    const full = this.source + p;
    const typeflag = typeFlag(st);
    if (typeflag === undefined) return; // sockets are not archived

    const hdr: TarHeader = {
      name: p.replace(/^\/+/, '') + (st.isDirectory() ? '/' : ''),
      typeflag,
      mode: Number(st.mode) & 0o7777,
      uid: Number(st.uid),
      gid: Number(st.gid),
      size: st.isFile() ? Number(st.size) : 0,
      mtime: floorSec(st.mtimeNs),
    };
    if (st.isSymbolicLink()) hdr.linkname = readlinkSync(bytes(full), { encoding: 'buffer' }).toString('latin1');
    if (st.isCharacterDevice() || st.isBlockDevice()) {
      hdr.devmajor = sys.major(st.rdev);
      hdr.devminor = sys.minor(st.rdev);
    }

    let additionalLinks: BytePath[] | undefined;
    if (!st.isDirectory() && st.nlink > 1n) {
      const inode = `${st.dev}:${st.ino}`;
      const first = this.inodeSource.get(inode);
      if (first !== undefined) {
        hdr.typeflag = '1';
        hdr.linkname = first;
        hdr.size = 0;
      } else {
        if (kind === 'unmodified') {
          this.inodeRefs.set(inode, [...(this.inodeRefs.get(inode) ?? []), hdr.name]);
          return;
        }
        this.inodeSource.set(inode, hdr.name);
        additionalLinks = this.inodeRefs.get(inode);
        this.inodeRefs.delete(inode);
      }
    } else if (kind === 'unmodified') {
      return;
    }

    const capability = sys.lgetxattr(full, 'security.capability');
    if (capability && capability.length > 0) hdr.pax = new Map([['SCHILY.xattr.security.capability', capability]]);

    yield* this.includeParents(hdr);
    yield* encodeHeader(hdr);
    if (hdr.typeflag === '0' && hdr.size > 0) yield* this.content(full, hdr.size);

    for (const extra of additionalLinks ?? []) {
      const link: TarHeader = { ...hdr, name: extra, typeflag: '1', linkname: hdr.name, size: 0 };
      yield* this.includeParents(link);
      yield* encodeHeader(link);
    }
  }

  /** Writes the entry's parent directory first, once, unless it is the root. */
  private async *includeParents(hdr: TarHeader): AsyncGenerator<Buffer> {
    const name = hdr.name.replace(/\/+$/, '');
    const slash = name.lastIndexOf('/');
    if (name !== '' && slash > 0) {
      const parent = name.slice(0, slash);
      if (!this.addedDirs.has(parent)) {
        this.addedDirs.add(parent);
        const st = lstatSync(bytes(`${this.source}/${parent}`), { bigint: true });
        yield* this.handle('modify', `/${parent}`, st);
      }
    }
    if (hdr.typeflag === '5') this.addedDirs.add(name);
  }

  private async *content(full: BytePath, size: number): AsyncGenerator<Buffer> {
    const fh = await open(bytes(full), 'r');
    let copied = 0;
    try {
      for (;;) {
        const buf = Buffer.allocUnsafe(READ_CHUNK);
        const { bytesRead } = await fh.read(buf, 0, buf.length);
        if (bytesRead === 0) break;
        copied += bytesRead;
        if (copied > size) break;
        yield buf.subarray(0, bytesRead);
      }
    } finally {
      await fh.close();
    }
    if (copied !== size) throw new Error(`short write copying file ${JSON.stringify(display(full))}: it changed while being read`);
    yield Buffer.alloc(padding(size));
  }
}

function typeFlag(st: BigIntStats): TypeFlag | undefined {
  if (st.isFile()) return '0';
  if (st.isDirectory()) return '5';
  if (st.isSymbolicLink()) return '2';
  if (st.isCharacterDevice()) return '3';
  if (st.isBlockDevice()) return '4';
  if (st.isFIFO()) return '6';
  return undefined;
}
