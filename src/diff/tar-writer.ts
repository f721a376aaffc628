/**
 * Tar headers for the layers ledgerd writes (diff-trees.ts), in the shape Go's archive/tar gives
 * containerd's ChangeWriter: USTAR blocks ("ustar\0" "00"), octal fields, and a PAX extended
 * header ('x', keys sorted, name "<dir>/PaxHeaders.0/<base>") when a field does not fit: a name
 * or link name longer than 100 bytes or not ASCII, big ids/sizes/times, and xattrs
 * (SCHILY.xattr.*, values binary). tar-stream's packer cannot write binary PAX values, hence this.
 */
import { type BytePath } from './byte-path.js';
import { encodePax } from './pax.js';

export const BLOCK = 512;

export type TypeFlag = '0' | '1' | '2' | '3' | '4' | '5' | '6';

export interface TarHeader {
  /** Byte-string name; directories end in "/". */
  name: BytePath;
  typeflag: TypeFlag;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Whole seconds. */
  mtime: number;
  linkname?: BytePath;
  devmajor?: number;
  devminor?: number;
  /** Extra PAX records (key -> raw value), e.g. SCHILY.xattr.security.capability. */
  pax?: Map<string, Buffer>;
}

const MAX_OCTAL_7 = 0o7777777;
const MAX_OCTAL_11 = 0o77777777777;
const isAscii = (s: string): boolean => !/[^\x01-\x7f]/.test(s);

/** The header blocks (PAX header and data if needed, then the USTAR block) for one entry. */
export function encodeHeader(h: TarHeader): Buffer[] {
  const pax = new Map<string, Buffer>(h.pax ?? []);
  if (h.name.length > 100 || !isAscii(h.name)) pax.set('path', Buffer.from(h.name, 'latin1'));
  const linkname = h.linkname ?? '';
  if (linkname.length > 100 || !isAscii(linkname)) pax.set('linkpath', Buffer.from(linkname, 'latin1'));
  if (h.uid > MAX_OCTAL_7) pax.set('uid', Buffer.from(String(h.uid)));
  if (h.gid > MAX_OCTAL_7) pax.set('gid', Buffer.from(String(h.gid)));
  if (h.size > MAX_OCTAL_11) pax.set('size', Buffer.from(String(h.size)));
  if (h.mtime < 0 || h.mtime > MAX_OCTAL_11) pax.set('mtime', Buffer.from(String(h.mtime)));
  if ((h.devmajor ?? 0) > MAX_OCTAL_7 || (h.devminor ?? 0) > MAX_OCTAL_7) {
    throw new Error(`device number of ${JSON.stringify(h.name)} does not fit a tar header`);
  }

  const blocks: Buffer[] = [];
  if (pax.size > 0) {
    const data = encodePax([...pax].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    const trimmed = h.name.replace(/\/+$/, '');
    const slash = trimmed.lastIndexOf('/');
    const paxName = `${slash < 0 ? '' : trimmed.slice(0, slash + 1)}PaxHeaders.0/${trimmed.slice(slash + 1)}`;
    blocks.push(ustar({ name: paxName, typeflag: 'x', mode: 0, uid: 0, gid: 0, size: data.length, mtime: 0 }));
    blocks.push(data, Buffer.alloc(padding(data.length)));
  }
  blocks.push(
    ustar({
      ...h,
      uid: Math.min(h.uid, MAX_OCTAL_7),
      gid: Math.min(h.gid, MAX_OCTAL_7),
      size: h.size > MAX_OCTAL_11 ? 0 : h.size,
      mtime: h.mtime < 0 || h.mtime > MAX_OCTAL_11 ? 0 : h.mtime,
    }),
  );
  return blocks;
}

/** Zero bytes that round `size` up to a block. */
export const padding = (size: number): number => (BLOCK - (size % BLOCK)) % BLOCK;

/** The end-of-archive marker: two zero blocks. */
export const trailer = (): Buffer => Buffer.alloc(2 * BLOCK);

type UstarFields = Omit<TarHeader, 'typeflag' | 'pax'> & { typeflag: TypeFlag | 'x' };

function ustar(h: UstarFields): Buffer {
  const b = Buffer.alloc(BLOCK);
  str(b, 0, 100, asciiField(h.name));
  oct(b, 100, 8, h.mode & 0o7777);
  oct(b, 108, 8, h.uid);
  oct(b, 116, 8, h.gid);
  oct(b, 124, 12, h.size);
  oct(b, 136, 12, h.mtime);
  b.fill(0x20, 148, 156);
  b.write(h.typeflag, 156, 'latin1');
  str(b, 157, 100, asciiField(h.linkname ?? ''));
  b.write('ustar\0' + '00', 257, 'latin1');
  oct(b, 329, 8, h.devmajor ?? 0);
  oct(b, 337, 8, h.devminor ?? 0);
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return b;
}

/** Go's toASCII: the USTAR field keeps only the ASCII bytes (the PAX record has the real name). */
const asciiField = (s: string): string => s.replace(/[^\x01-\x7f]/g, '');

function str(b: Buffer, off: number, len: number, s: string): void {
  b.write(s.slice(0, len), off, 'latin1');
}

function oct(b: Buffer, off: number, len: number, n: number): void {
  b.write(`${n.toString(8).padStart(len - 1, '0')}\0`, off, 'latin1');
}
