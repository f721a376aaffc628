/** Test helpers: build layer tars with tar-stream, compress them, apply them, snapshot trees. */
import { createHash } from 'node:crypto';
import { lstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { Readable } from 'node:stream';
import { once } from 'node:events';
import { gzipSync } from 'node:zlib';
import { execa } from 'execa';
import tar from 'tar-stream';
import { applyLayer, type ApplyLayerOptions, type ApplyLayerResult } from '../../src/diff/index.js';
import { fromUtf8 } from '../../src/diff/byte-path.js';
import { lgetxattr, major, minor } from '../../src/diff/syscalls.js';
import { encodeHeader, padding, type TarHeader, trailer } from '../../src/diff/tar-writer.js';

export type EntryType = 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo';

export interface Entry {
  name: string;
  type?: EntryType;
  content?: string | Buffer;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Date;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  pax?: Record<string, string>;
}

export const T0 = new Date('2020-01-02T03:04:05Z');

/** A tar built by tar-stream's packer. */
export async function tarLayer(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => void chunks.push(c as Buffer));
  const ended = once(pack, 'end');
  for (const e of entries) {
    const type = e.type ?? 'file';
    const content = e.content === undefined ? undefined : Buffer.from(e.content);
    await new Promise<void>((resolve, reject) => {
      const header = {
        name: e.name,
        type,
        mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644),
        uid: e.uid ?? 0,
        gid: e.gid ?? 0,
        mtime: e.mtime ?? T0,
        linkname: e.linkname,
        devmajor: e.devmajor,
        devminor: e.devminor,
        pax: e.pax,
        size: content?.length ?? 0,
      };
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (type === 'file') pack.entry(header, content ?? Buffer.alloc(0), cb);
      else pack.entry(header, Buffer.alloc(0), cb);
    });
  }
  pack.finalize();
  await ended;
  return Buffer.concat(chunks);
}

/** A tar written block by block (for binary PAX values and malformed archives). */
export function rawTar(entries: Array<{ header: TarHeader; content?: Buffer }>, options: { trailer?: boolean } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const { header, content } of entries) {
    parts.push(...encodeHeader(header));
    if (content) parts.push(content, Buffer.alloc(padding(content.length)));
  }
  if (options.trailer !== false) parts.push(trailer());
  return Buffer.concat(parts);
}

export const raw = (h: Partial<TarHeader> & { name: string }): TarHeader => ({
  typeflag: '0',
  mode: 0o644,
  uid: 0,
  gid: 0,
  size: 0,
  mtime: Math.floor(T0.getTime() / 1000),
  ...h,
  name: fromUtf8(h.name),
});

export const gzip = (b: Buffer): Buffer => gzipSync(b);

export async function zstd(b: Buffer): Promise<Buffer> {
  const { stdout } = await execa('zstd', ['-c', '-q'], { input: b, encoding: 'buffer', stripFinalNewline: false });
  return Buffer.from(stdout);
}

export const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A stream that hands out `b` in pieces of `size` bytes (to exercise framing across chunks). */
export function chunked(b: Buffer, size = 64 * 1024): Readable {
  const pieces: Buffer[] = [];
  for (let i = 0; i < b.length; i += size) pieces.push(b.subarray(i, i + size));
  return Readable.from(pieces, { objectMode: false });
}

export const OCI_TAR = 'application/vnd.oci.image.layer.v1.tar';
export const OCI_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const OCI_ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';

export function apply(
  blob: Buffer,
  root: string,
  options: Partial<ApplyLayerOptions> & { chunk?: number } = {},
): Promise<ApplyLayerResult> {
  const { chunk, ...rest } = options;
  return applyLayer(chunked(blob, chunk), root, { mediaType: OCI_TAR, whiteouts: 'apply', ...rest });
}

export interface Node {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size?: number;
  sha?: string;
  link?: string;
  rdev?: [number, number];
  mtime?: number;
  cap?: string;
}

/** Everything observable about a tree, keyed by relative path; `times` adds non-dir mtimes (s). */
export function snapshot(root: string, options: { times?: boolean } = {}): Record<string, Node> {
  const out: Record<string, Node> = {};
  const walk = (rel: string) => {
    for (const name of readdirSync(`${root}/${rel}`).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const p = `${root}/${r}`;
      const st = lstatSync(p, { bigint: true });
      const n: Node = { type: kind(st), mode: Number(st.mode) & 0o7777, uid: Number(st.uid), gid: Number(st.gid) };
      if (st.isFile()) {
        n.size = Number(st.size);
        n.sha = sha256(readFileSync(p));
      }
      if (st.isSymbolicLink()) n.link = readlinkSync(p);
      if (st.isCharacterDevice() || st.isBlockDevice()) n.rdev = [major(st.rdev), minor(st.rdev)];
      if (options.times && !st.isDirectory()) n.mtime = Number(st.mtimeNs / 1_000_000_000n);
      const cap = lgetxattr(fromUtf8(p), 'security.capability');
      if (cap) n.cap = cap.toString('hex');
      out[r] = n;
      if (st.isDirectory()) walk(r);
    }
  };
  walk('');
  return out;
}

function kind(st: ReturnType<typeof lstatSync>): string {
  if (!st) return 'none';
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  return 'other';
}
