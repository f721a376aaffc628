/**
 * A pass-through in front of tar-stream that frames the tar blocks itself, so that:
 *  - the uncompressed stream is hashed and counted in full (the diffID covers the trailing padding
 *    after the end-of-archive marker, as containerd drains it);
 *  - reading stops where Go's archive/tar stops: at two zero blocks (later bytes are hashed but
 *    never parsed), and a zero block followed by a header is an error, as in Go;
 *  - per-entry PAX records are kept binary-safe (tar-stream decodes them as UTF-8, which breaks
 *    binary xattr values and non-UTF-8 paths), queued in entry order for the consumer;
 *  - PAX global headers that would rename or resize entries are refused (Go ignores global
 *    headers, tar-stream merges them).
 * Its framing mirrors tar-stream's exactly (same size decoding, same header-only rules), so every
 * header it queues is the header tar-stream emits next.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { LayerFormatError } from './errors.js';
import { decodePax, type PaxRecords } from './pax.js';

/** What the framer learned about one entry header, in archive order. */
export interface EntryMeta {
  /** The raw typeflag byte. */
  typeflag: number;
  /** The entry's own PAX records (not global ones), raw. */
  pax: PaxRecords | null;
}

const BLOCK = 512;
const MAX_META = 4 * 1024 * 1024; // tar-stream's limit for long-name and PAX headers
const USTAR_MAGIC = Buffer.from('ustar\0', 'latin1');

export class TarFramer extends Transform {
  /** Entry headers seen so far and not yet taken by the consumer. */
  readonly entries: EntryMeta[] = [];
  private readonly hash: Hash = createHash('sha256');
  private total = 0;
  private readonly header = Buffer.alloc(BLOCK);
  private headerFill = 0;
  private skip = 0;
  private meta: { typeflag: number; data: Buffer; fill: number; pad: number } | null = null;
  private pax: PaxRecords | null = null;
  private zeroBlock = false;
  private ended = false;

  /** sha256 digest of every byte that went through, "sha256:<hex>" (call after the end). */
  digest(): string {
    return `sha256:${this.hash.copy().digest('hex')}`;
  }

  /** Bytes that went through. */
  get size(): number {
    return this.total;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.total += chunk.length;
    if (this.ended) return cb();
    let at = 0;
    try {
      while (at < chunk.length && !this.ended) {
        if (this.skip > 0) {
          const n = Math.min(this.skip, chunk.length - at);
          this.skip -= n;
          at += n;
        } else if (this.meta) {
          const m = this.meta;
          const n = Math.min(m.data.length - m.fill, chunk.length - at);
          chunk.copy(m.data, m.fill, at, at + n);
          m.fill += n;
          at += n;
          if (m.fill === m.data.length) {
            this.meta = null;
            this.skip = m.pad;
            this.metaDone(m.typeflag, m.data);
          }
        } else {
          const n = Math.min(BLOCK - this.headerFill, chunk.length - at);
          chunk.copy(this.header, this.headerFill, at, at + n);
          this.headerFill += n;
          at += n;
          if (this.headerFill === BLOCK) {
            this.headerFill = 0;
            this.onHeader(this.header);
          }
        }
      }
    } catch (err) {
      return cb(err as Error);
    }
    // After the end-of-archive marker nothing more reaches the tar parser.
    if (at > 0) this.push(at === chunk.length ? chunk : chunk.subarray(0, at));
    cb();
  }

  private onHeader(block: Buffer): void {
    if (block.every((b) => b === 0)) {
      if (this.zeroBlock) this.ended = true;
      this.zeroBlock = true;
      return;
    }
    if (this.zeroBlock) throw new LayerFormatError('invalid tar header: a zero block is followed by a header');
    let sum = 8 * 32;
    for (let i = 0; i < BLOCK; i++) if (i < 148 || i >= 156) sum += block[i]!;
    if (sum === 8 * 32) throw new LayerFormatError('invalid tar header: empty header with a checksum');

    const typeflag = block[156] === 0 ? 0 : block[156]! - 48;
    const size = decodeOct(block.subarray(124, 136));
    if (size === null || !(size >= 0)) throw new LayerFormatError('invalid tar header: bad size field');
    switch (typeflag) {
      case 72: // 'x' PAX header for the next entry
      case 55: // 'g' PAX global header
      case 27: // 'K' GNU long link name
      case 28: // 'L' GNU long name
      case 30: // 'N' old GNU long name (tar-stream treats it as 'L')
        if (size > MAX_META) throw new LayerFormatError('tar header exceeds max size');
        this.meta = { typeflag, data: Buffer.alloc(size), fill: 0, pad: padding(size) };
        if (size === 0) {
          this.meta = null;
          this.metaDone(typeflag, Buffer.alloc(0));
        }
        return;
    }
    const pax = this.pax;
    this.pax = null;
    this.entries.push({ typeflag: block[156]!, pax });
    let dataSize = size;
    const paxSize = pax?.get('size');
    if (paxSize && paxSize.length > 0) dataSize = parseInt(paxSize.toString('latin1'), 10);
    if (!(dataSize >= 0)) throw new LayerFormatError('invalid tar header: bad PAX size');
    const isDir = typeflag === 5 || (typeflag === 0 && nameEndsWithSlash(block));
    this.skip = isDir || dataSize === 0 ? 0 : dataSize + padding(dataSize);
  }

  private metaDone(typeflag: number, data: Buffer): void {
    if (typeflag === 72) {
      this.pax = decodePax(data);
    } else if (typeflag === 55) {
      const global = decodePax(data);
      for (const key of ['path', 'linkpath', 'size']) {
        if (global.has(key)) throw new LayerFormatError(`PAX global header sets "${key}", which would apply to every later entry`);
      }
    }
  }
}

const padding = (size: number): number => (BLOCK - (size % BLOCK)) % BLOCK;

/** tar-stream's name check for a '0' entry whose name ends in "/" (it becomes a directory). */
function nameEndsWithSlash(block: Buffer): boolean {
  let name = cstr(block, 0, 100);
  if (block.subarray(257, 263).equals(USTAR_MAGIC) && block[345] !== 0) name = `${cstr(block, 345, 155)}/${name}`;
  return name.length > 0 && name.endsWith('/');
}

function cstr(block: Buffer, off: number, len: number): string {
  const end = block.indexOf(0, off);
  return block.toString('latin1', off, end < 0 || end > off + len ? off + len : end);
}

/** tar-stream's numeric field decoding (octal, or base-256 when the high bit is set). */
function decodeOct(field: Buffer): number | null {
  if (field[0]! & 0x80) {
    const positive = field[0] === 0x80;
    if (!positive && field[0] !== 0xff) return null;
    let sum = 0;
    for (let i = 1; i < field.length; i++) sum = sum * 256 + (positive ? field[i]! : 0xff - field[i]!);
    return positive ? sum : -sum;
  }
  let off = 0;
  while (off < field.length && field[off] === 32) off++;
  let end = field.indexOf(32, off);
  if (end < 0) end = field.length;
  while (off < end && field[off] === 0) off++;
  if (end === off) return 0;
  return parseInt(field.toString('latin1', off, end), 8);
}
