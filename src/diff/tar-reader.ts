/**
 * Reads a tar stream block by block and hands each entry to a sink: its header, then its data in
 * the chunks it arrived in, then its end. One synchronous pass per chunk, no stream per entry.
 *  - the whole stream is hashed and counted (the diffID covers the trailing padding after the
 *    end-of-archive marker, as containerd drains it);
 *  - reading stops where Go's archive/tar stops: at two zero blocks (later bytes are hashed but
 *    never parsed), and a zero block followed by a header is an error, as in Go;
 *  - per-entry PAX records are kept raw and binary-safe (binary xattr values, non-UTF-8 paths);
 *    PAX global headers that would rename or resize entries are refused (Go ignores global
 *    headers; merging them would apply them to every later entry);
 *  - header fields, GNU long names and data framing are decoded as tar-stream decodes them (which
 *    ledgerd used before, latin1 names, unknown formats accepted): same octal/base-256 numbers,
 *    ustar prefix, checksum rule, a '0' entry named "…/" is a directory, directories and
 *    zero-size entries have no data blocks.
 */
import { createHash, type Hash } from 'node:crypto';
import { Writable } from 'node:stream';
import { LayerFormatError } from './errors.js';
import { decodePax, type PaxRecords } from './pax.js';

/** The header fields an entry's consumer uses (names are latin1 strings, i.e. bytes). */
export interface EntryHeader {
  name: string;
  type: string | null;
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of data (a PAX size record wins over the header's field). */
  size: number;
  /** Seconds since the epoch. */
  mtime: number;
  linkname: string | null;
  devmajor: number;
  devminor: number;
}

/** Receives the entries in archive order; anything it throws fails the stream. */
export interface TarEntrySink {
  /** An entry's header; `typeflag` is the raw typeflag byte, `pax` its own PAX records. */
  begin(header: EntryHeader, typeflag: number, pax: PaxRecords | null): void;
  /** A piece of the current entry's data (a view into the chunk written to the reader). */
  data(chunk: Buffer): void;
  /** The current entry's data is complete. */
  end(): void;
}

const BLOCK = 512;
const MAX_META = 4 * 1024 * 1024; // tar-stream's limit for long-name and PAX headers
const USTAR_MAGIC = Buffer.from('ustar\0', 'latin1');
const TYPES: Record<number, string> = {
  0: 'file',
  1: 'link',
  2: 'symlink',
  3: 'character-device',
  4: 'block-device',
  5: 'directory',
  6: 'fifo',
  7: 'contiguous-file',
};

export class TarReader extends Writable {
  private readonly hash: Hash = createHash('sha256');
  private total = 0;
  private readonly header = Buffer.alloc(BLOCK);
  private headerFill = 0;
  /** Data bytes of the current entry still to hand to the sink. */
  private remaining = 0;
  /** Bytes to pass over (padding after data). */
  private skip = 0;
  private meta: { typeflag: number; data: Buffer; fill: number; pad: number } | null = null;
  private pax: PaxRecords | null = null;
  private longName: string | null = null;
  private longLink: string | null = null;
  private zeroBlock = false;
  private ended = false;

  constructor(private readonly sink: TarEntrySink) {
    super({ highWaterMark: 256 * 1024 });
  }

  /** sha256 digest of every byte written, "sha256:<hex>" (call after the end). */
  digest(): string {
    return `sha256:${this.hash.copy().digest('hex')}`;
  }

  /** Bytes written. */
  get size(): number {
    return this.total;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.hash.update(chunk);
    this.total += chunk.length;
    try {
      this.parse(chunk);
    } catch (err) {
      return cb(err as Error);
    }
    cb();
  }

  override _final(cb: (err?: Error | null) => void): void {
    // An archive may end without its end-of-archive marker, but not inside a header or an entry.
    const inside = this.headerFill > 0 || this.meta !== null || this.remaining > 0 || this.skip > 0;
    cb(!this.ended && inside ? new LayerFormatError('Unexpected end of data') : null);
  }

  private parse(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length && !this.ended) {
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, chunk.length - at);
        this.sink.data(chunk.subarray(at, at + n));
        this.remaining -= n;
        at += n;
        if (this.remaining === 0) this.sink.end();
      } else if (this.skip > 0) {
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
    if (sum !== decodeOct(block, 148, 8)) throw new LayerFormatError('Invalid tar header: bad checksum');

    let typeflag = block[156] === 0 ? 0 : block[156]! - 48;
    const size = decodeOct(block, 124, 12);
    if (size === null || !(size >= 0)) throw new LayerFormatError('invalid tar header: bad size field');
    switch (typeflag) {
      case 72: // 'x' PAX header for the next entry
      case 55: // 'g' PAX global header
      case 27: // 'K' GNU long link name
      case 28: // 'L' GNU long name
      case 30: // 'N' old GNU long name (tar-stream treats it as 'L')
        if (size > MAX_META) throw new LayerFormatError('tar header exceeds max size');
        if (size === 0) return this.metaDone(typeflag, Buffer.alloc(0));
        this.meta = { typeflag, data: Buffer.alloc(size), fill: 0, pad: padding(size) };
        return;
    }
    const pax = this.pax;
    this.pax = null;
    let name = cstr(block, 0, 100);
    if (block.subarray(257, 263).equals(USTAR_MAGIC) && block[345] !== 0) name = `${cstr(block, 345, 155)}/${name}`;
    if (typeflag === 0 && name.endsWith('/')) typeflag = 5; // old tars mark directories so
    let dataSize = size;
    const paxSize = pax?.get('size');
    if (paxSize && paxSize.length > 0) dataSize = parseInt(paxSize.toString('latin1'), 10);
    if (!(dataSize >= 0)) throw new LayerFormatError('invalid tar header: bad PAX size');
    const header: EntryHeader = {
      name: this.longName ?? name,
      type: TYPES[typeflag] ?? null,
      mode: decodeOct(block, 100, 8)!,
      uid: decodeOct(block, 108, 8)!,
      gid: decodeOct(block, 116, 8)!,
      size: dataSize,
      mtime: decodeOct(block, 136, 12)!,
      linkname: this.longLink ?? (block[157] === 0 ? null : cstr(block, 157, 100)),
      devmajor: decodeOct(block, 329, 8)!,
      devminor: decodeOct(block, 337, 8)!,
    };
    this.longName = null;
    this.longLink = null;
    this.sink.begin(header, block[156]!, pax);
    if (typeflag === 5 || dataSize === 0) {
      this.sink.end();
      return;
    }
    this.remaining = dataSize;
    this.skip = padding(dataSize);
  }

  private metaDone(typeflag: number, data: Buffer): void {
    if (typeflag === 72) {
      this.pax = decodePax(data);
    } else if (typeflag === 55) {
      const global = decodePax(data);
      for (const key of ['path', 'linkpath', 'size']) {
        if (global.has(key)) throw new LayerFormatError(`PAX global header sets "${key}", which would apply to every later entry`);
      }
    } else if (typeflag === 27) {
      this.longLink = cstr(data, 0, data.length);
    } else {
      this.longName = cstr(data, 0, data.length);
    }
  }
}

const padding = (size: number): number => (BLOCK - (size % BLOCK)) % BLOCK;

/** The bytes up to the first NUL (or `len`) as a latin1 string. */
function cstr(block: Buffer, off: number, len: number): string {
  const end = block.indexOf(0, off);
  return block.toString('latin1', off, end < 0 || end > off + len ? off + len : end);
}

/** tar-stream's numeric field decoding (octal, or base-256 when the high bit is set). */
function decodeOct(block: Buffer, offset: number, length: number): number | null {
  const limit = offset + length;
  if (block[offset]! & 0x80) {
    const positive = block[offset] === 0x80;
    if (!positive && block[offset] !== 0xff) return null;
    let sum = 0;
    for (let i = offset + 1; i < limit; i++) sum = sum * 256 + (positive ? block[i]! : 0xff - block[i]!);
    return positive ? sum : -sum;
  }
  let off = offset;
  while (off < limit && block[off] === 32) off++;
  let end = block.indexOf(32, off);
  if (end < 0 || end > limit) end = limit;
  while (off < end && block[off] === 0) off++;
  if (end === off) return 0;
  return parseInt(block.toString('latin1', off, end), 8);
}
