import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Damage, decodeRecord } from './codec.js';
import { CorruptLogError } from './errors.js';
import type { LogRecord } from './record.js';

/**
 * History that retention moved out of LMDB: one file per range of seqs, `<first>-<last>.seg`
 * (zero-padded, so names sort in seq order). A segment is the gzip of its records as LMDB held
 * them, each preceded by its length (u32 LE): gzip's CRC-32 and length trailer check the file as
 * a whole, and each record still carries its own CRC. Segments are written to a temporary name,
 * fsync'd and renamed before the records leave LMDB, so a crash between the two leaves the
 * records in both places, never in neither.
 */
export interface Segment {
  readonly first: number;
  readonly last: number;
  readonly path: string;
}

const NAME = /^(\d{16})-(\d{16})\.seg$/;
const pad = (seq: number) => String(seq).padStart(16, '0');

export class Archive {
  private segments: Segment[];
  /** The last segment read, decoded: history is read in order, so one is enough. */
  private cached: { segment: Segment; records: LogRecord[] } | undefined;

  private constructor(readonly dir: string) {
    this.segments = readdirSync(dir)
      .map((name) => NAME.exec(name))
      .filter((match): match is RegExpExecArray => match !== null)
      .map((match) => ({ first: Number(match[1]), last: Number(match[2]), path: join(dir, match[0]) }));
  }

  static open(dir: string): Archive {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return new Archive(dir);
  }

  /** Segments that begin at or after `firstStored` hold records LMDB still has (a crash came between write and removal): they go. */
  dropFrom(firstStored: number): void {
    for (const segment of this.segments.filter((s) => s.first >= firstStored)) rmSync(segment.path, { force: true });
    this.segments = this.segments.filter((s) => s.first < firstStored);
    for (const name of readdirSync(this.dir)) if (name.endsWith('.tmp')) rmSync(join(this.dir, name), { force: true });
  }

  /** First archived seq, or undefined when nothing is archived. */
  get first(): number | undefined {
    return this.segments[0]?.first;
  }

  list(): readonly Segment[] {
    return this.segments;
  }

  /** Writes records `first`..`first + stored.length - 1` (as LMDB holds them) as one durable segment. */
  write(first: number, stored: readonly Buffer[]): Segment {
    const last = first + stored.length - 1;
    const parts: Buffer[] = [];
    for (const bytes of stored) {
      const length = Buffer.alloc(4);
      length.writeUInt32LE(bytes.length);
      parts.push(length, bytes);
    }
    const path = join(this.dir, `${pad(first)}-${pad(last)}.seg`);
    const temporary = `${path}.tmp`;
    const fd = openSync(temporary, 'w', 0o600);
    try {
      writeSync(fd, gzipSync(Buffer.concat(parts)));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, path);
    const dirFd = openSync(this.dir, 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
    const segment = { first, last, path };
    this.segments.push(segment);
    return segment;
  }

  /** Records `from`..`to` in order; throws CorruptLogError on a missing range or a damaged segment. */
  *read(from: number, to: number): Generator<LogRecord> {
    let expected = from;
    while (expected <= to) {
      const segment = this.segments.find((s) => s.first <= expected && expected <= s.last);
      if (!segment) throw new CorruptLogError(`archived record ${expected} is in no segment of ${this.dir}`);
      const records = this.decoded(segment);
      for (let seq = expected; seq <= Math.min(to, segment.last); seq++) {
        yield records[seq - segment.first]!;
        expected++;
      }
    }
  }

  private decoded(segment: Segment): LogRecord[] {
    if (this.cached?.segment === segment) return this.cached.records;
    let bytes: Buffer;
    try {
      bytes = gunzipSync(readFileSync(segment.path));
    } catch (err) {
      throw new CorruptLogError(`archive segment ${segment.path}: ${(err as Error).message}`);
    }
    const records: LogRecord[] = [];
    let at = 0;
    for (let seq = segment.first; seq <= segment.last; seq++) {
      if (at + 4 > bytes.length) throw new CorruptLogError(`archive segment ${segment.path} ends before record ${seq}`);
      const length = bytes.readUInt32LE(at);
      const record = decodeRecord(bytes.subarray(at + 4, at + 4 + length));
      if (record instanceof Damage) throw new CorruptLogError(`archived record ${seq} ${record.reason}`);
      if (record.seq !== seq) throw new CorruptLogError(`archive segment ${segment.path} holds record ${record.seq} where ${seq} belongs`);
      records.push(record);
      at += 4 + length;
    }
    if (at !== bytes.length) throw new CorruptLogError(`archive segment ${segment.path} has ${bytes.length - at} bytes after record ${segment.last}`);
    this.cached = { segment, records };
    return records;
  }
}
