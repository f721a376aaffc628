import { mkdirSync, statfsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { IF_EXISTS, open, type Database, type DatabaseOptions, type RootDatabase } from 'lmdb';
import { BehaviorSubject, Observable, Subject } from 'rxjs';
import { Damage, decodeRecord, MAX_STREAM_KEY_BYTES, recordEncoder } from './codec.js';
import { CorruptLogError, LogClosedError } from './errors.js';
import { CheckpointStore } from './checkpoints.js';
import { RecentRecords } from './recent-records.js';
import { WakeUp } from './wake-up.js';
import { Archive, type Segment } from './archive.js';
import type { RetentionPolicy } from './retention.js';
import { nowNs } from './clock.js';
import { GroupCommit, type AppendResult, type StreamExpectation } from './group-commit.js';
import { streamKey, type LogRecord, type NewEvent, type Upcaster } from './record.js';

export type { AppendResult, StreamExpectation };

export interface LogOptions {
  /** Directory that holds the log's LMDB environment (created if missing). */
  readonly dir: string;
  /** Rewrites records of old payload schemas on read. */
  readonly upcast?: Upcaster;
  /** Records read from LMDB per step of a replay or a tail. */
  readonly readBatch?: number;
  /** Open even when the newest record is damaged (for verify, which reports it). */
  readonly tolerateDamage?: boolean;
  /** Newest records kept decoded in memory for readers that follow the head (default 1024). */
  readonly recentRecords?: number;
  /** Checkpoints of each projection kept per doubling of age (older ones are thinned). */
  readonly checkpointHistory?: number;
  /** History to move from LMDB to the archive (the daemon applies it; off when unset). */
  readonly retention?: RetentionPolicy;
}

export interface AppendOptions {
  /** Every listed stream must be at the given version, or the whole batch is refused. */
  readonly expected?: readonly StreamExpectation[];
}

export interface AppendStats {
  readonly events: number;
}

const DATA_FILE = 'events.mdb';
const ARCHIVE_DIR = 'archive';

/**
 * The append-only event log on LMDB. One writer (this process); appends are group-committed
 * (group-commit.ts) and resolve only once their transaction is flushed to disk. Stream versions
 * count appends not yet durable, so concurrent appenders see each other's effect on optimistic
 * concurrency checks before either commits.
 */
export class EventLog {
  /** Highest sequence number that is durable and readable. */
  readonly head$: BehaviorSubject<number>;
  /**
   * The records of each durable batch, in seq order, decoded as a reader of the log would see
   * them, emitted synchronously the moment they become readable (the head has moved and the
   * projections following tail$ have them); completes when the log closes. For readers that
   * follow the head and must not wait a turn of the event loop to learn of a commit.
   */
  readonly committed$ = new Subject<readonly LogRecord[]>();
  /** Every appended batch, once durable: the hook for metrics. */
  readonly appended$ = new BehaviorSubject<AppendStats>({ events: 0 });
  readonly checkpoints: CheckpointStore;

  private readonly writer: GroupCommit;
  private closing = false;
  private lastTime = 0n;
  private readonly recent: RecentRecords;
  /** Wakes the followers waiting at the head when it moves (or the log closes). */
  private readonly headMoved = new WakeUp();
  /** The oldest record LMDB holds; older ones are in the archive. */
  private firstStored: number;

  private constructor(
    private readonly env: RootDatabase,
    private readonly records: Database<LogRecord | Damage, number>,
    private readonly streams: Database<number, string>,
    checkpoints: Database<Buffer, string>,
    private readonly options: LogOptions,
    head: number,
    private readonly archive: Archive,
  ) {
    this.firstStored = firstSeq(records) ?? head + 1;
    archive.dropFrom(this.firstStored);
    this.head$ = new BehaviorSubject(head);
    this.checkpoints = new CheckpointStore(checkpoints, { perDoubling: options.checkpointHistory });
    this.recent = new RecentRecords(options.recentRecords ?? 1024);
    this.writer = new GroupCommit(
      {
        storedHead: () => lastSeq(this.records),
        // a key too long for LMDB names no stream (encodeEvent refuses to create one)
        storedVersion: (key) => (Buffer.byteLength(key) > MAX_STREAM_KEY_BYTES ? 0 : (this.streams.get(key) ?? 0)),
        write: (records, encoded) => this.write(records, encoded),
        time: () => this.nextTime(),
      },
      (records, encoded) => {
        const last = records[records.length - 1]!.seq;
        if (last > this.head) {
          const committed = this.keepRecent(encoded);
          this.head$.next(last);
          this.headMoved.wake();
          this.committed$.next(committed);
        }
        this.appended$.next({ events: records.length });
      },
    );
  }

  static open(options: LogOptions): EventLog {
    mkdirSync(options.dir, { recursive: true, mode: 0o700 });
    const path = join(options.dir, DATA_FILE);
    // overlappingSync off: a commit returns once fsync'd (measured faster here than overlapped flushes),
    // eventTurnBatching off: a batch is one conditional write (atomic by itself); lmdb-js's per-turn batch
    // has a commit promise nobody holds, which a failed commit rejects unhandled.
    const env = open({ path, maxDbs: 8, overlappingSync: false, eventTurnBatching: false });
    try {
      checkNotTruncated(env, path);
      const records = env.openDB<LogRecord | Damage, number>('records', { encoder: recordEncoder, keyEncoding: 'uint32' } as DatabaseOptions);
      const streams = env.openDB<number, string>('streams', { encoding: 'msgpack' });
      const checkpoints = env.openDB<Buffer, string>('checkpoints', { encoding: 'binary' });
      const head = lastSeq(records);
      const log = new EventLog(env, records, streams, checkpoints, options, head, Archive.open(join(options.dir, ARCHIVE_DIR)));
      // the newest record must decode: a torn or damaged tail is detected here
      if (head > 0 && !options.tolerateDamage) log.recordAt(head);
      return log;
    } catch (err) {
      void env.close();
      throw err;
    }
  }

  get head(): number {
    return this.head$.value;
  }

  get retention(): RetentionPolicy | undefined {
    return this.options.retention;
  }

  get path(): string {
    return join(this.options.dir, DATA_FILE);
  }

  /** Current version of a stream, counting appends that are queued but not yet durable. */
  streamVersion(namespace: string, stream: string): number {
    return this.writer.streamVersion(namespace, stream);
  }

  /** A stream's durable version, when no append to it is queued or being written (else undefined). */
  settledStreamVersion(namespace: string, stream: string): number | undefined {
    return this.writer.settledVersion(namespace, stream);
  }

  /** Whether no append is queued or being written: then the head is everything appended. */
  get quiet(): boolean {
    return this.writer.quiet;
  }

  /**
   * Appends a batch atomically. Refused at once, alone, when an event cannot be encoded
   * (UnencodableEventError) or an expectation fails (AppendConflictError); rejected with
   * LogWriteError when its transaction fails, and then nothing of it is stored.
   */
  append(events: readonly NewEvent[], options: AppendOptions = {}): Promise<AppendResult> {
    if (this.closing) return Promise.reject(new LogClosedError('shutting down'));
    if (events.length === 0) return Promise.resolve({ first: this.head + 1, last: this.head, records: [] });
    try {
      return this.writer.append(events, options.expected ?? []);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Resolves once every append made before the call is durable or refused; then with the head. */
  async settled(): Promise<number> {
    await this.writer.settled();
    return this.head;
  }

  /**
   * Records from `from` to `to` (inclusive, default: the head), in order, synchronously: the
   * recent ones from memory, older ones from LMDB, the oldest from the archive.
   */
  *read(from: number, to: number = this.head): Generator<LogRecord> {
    let expected = Math.max(from, 1);
    const end = Math.min(to, this.head);
    while (expected <= end) {
      if (expected < this.firstStored) {
        for (const record of this.readArchived(expected, Math.min(end, this.firstStored - 1))) {
          yield record;
          expected++;
        }
        continue;
      }
      const kept = this.recent.get(expected);
      if (kept) {
        yield kept;
        expected++;
        continue;
      }
      const stored = Math.min(end, this.recent.oldest - 1);
      if (stored < expected) throw new CorruptLogError(`record ${expected} is neither kept nor stored`);
      for (const record of this.readStored(expected, stored)) {
        yield record;
        expected++;
      }
    }
  }

  private *readArchived(from: number, to: number): Generator<LogRecord> {
    const upcast = this.options.upcast;
    for (const record of this.archive.read(from, to)) yield upcast ? upcast(record) : record;
  }

  /** Records `from`..`to` as stored in LMDB; both ends must be durable. */
  private *readStored(from: number, to: number): Generator<LogRecord> {
    const upcast = this.options.upcast;
    let expected = from;
    for (const { key, value } of this.records.getRange({ start: from, end: to + 1 })) {
      if (key !== expected) throw new CorruptLogError(`sequence gap: expected ${expected}, found ${key}`);
      const record = checked(value, key);
      yield upcast ? upcast(record) : record;
      expected++;
    }
    if (expected <= to) throw new CorruptLogError(`sequence gap: records ${expected}..${to} are missing`);
  }

  /** Decodes a durable batch once, as a reader from LMDB would see it, for the readers at the head. */
  private keepRecent(encoded: readonly Buffer[]): LogRecord[] {
    const upcast = this.options.upcast;
    const kept: LogRecord[] = [];
    for (const bytes of encoded) {
      const record = decodeRecord(bytes);
      if (record instanceof Damage) break;
      kept.push(upcast ? upcast(record) : record);
      this.recent.add(kept[kept.length - 1]!);
    }
    return kept;
  }

  recordAt(seq: number): LogRecord {
    if (seq < this.firstStored) return this.readArchived(seq, seq).next().value as LogRecord;
    const value = this.records.getBinary(seq);
    if (!value) throw new CorruptLogError(`record ${seq} is missing`);
    const record = checked(decodeRecord(value), seq);
    return this.options.upcast ? this.options.upcast(record) : record;
  }

  /** The seqs LMDB holds (the rest is archived), and the bytes of LMDB pages they take. */
  stored(): { first: number; last: number; bytes: number } {
    const stats = this.records.getStats() as { pageSize: number; treeBranchPageCount: number; treeLeafPageCount: number; overflowPages: number };
    const pages = stats.treeBranchPageCount + stats.treeLeafPageCount + stats.overflowPages;
    return { first: this.firstStored, last: this.head, bytes: pages * stats.pageSize };
  }

  /** The archive's segments, oldest first. */
  archived(): readonly Segment[] {
    return this.archive.list();
  }

  /**
   * Moves records from the oldest LMDB holds through `seq` into archive segments of up to
   * `perSegment` records (never the head, which LMDB must keep); returns how many moved. Each
   * segment is durable before its records leave LMDB. Readers see no difference.
   */
  async archiveThrough(seq: number, perSegment = 10_000): Promise<number> {
    const last = Math.min(seq, this.head - 1);
    let moved = 0;
    while (this.firstStored <= last && !this.closing) {
      const first = this.firstStored;
      const to = Math.min(last, first + perSegment - 1);
      const stored: Buffer[] = [];
      for (let at = first; at <= to; at++) {
        const bytes = this.records.getBinary(at);
        if (!bytes) throw new CorruptLogError(`record ${at} is missing`);
        checked(decodeRecord(bytes), at);
        stored.push(bytes);
      }
      this.archive.write(first, stored);
      this.firstStored = to + 1;
      await this.records.transaction(() => {
        for (let at = first; at <= to; at++) void this.records.remove(at);
      });
      moved += to - first + 1;
      await new Promise((resolve) => setImmediate(resolve));
    }
    return moved;
  }

  /**
   * Every record from `from` on: the history first, then new records as they become durable.
   * Pull-driven: a record is read from LMDB only when the consumer asks for the next one, so a
   * slow consumer costs the daemon no buffering.
   */
  async *follow(from: number, signal?: AbortSignal): AsyncGenerator<LogRecord> {
    const batch = this.options.readBatch ?? 1024;
    let next = Math.max(from, 1);
    // an abort wakes every waiting follower; the others find nothing new and wait again
    const aborted = () => this.headMoved.wake();
    signal?.addEventListener('abort', aborted, { once: true });
    try {
      while (!signal?.aborted && !this.closing) {
        const head = this.head;
        if (next > head) {
          await this.headMoved.wait();
          continue;
        }
        const to = Math.min(head, next + batch - 1);
        const chunk = [...this.read(next, to)];
        for (const record of chunk) {
          if (signal?.aborted) return;
          yield record;
        }
        next = to + 1;
      }
    } finally {
      signal?.removeEventListener('abort', aborted);
    }
  }

  /**
   * The log as an Observable: replays from `from`, then follows. Records are emitted in batches
   * read from LMDB; each emission is synchronous, so a consumer that is slow to handle a record
   * slows the reading, and long replays yield to the event loop between batches.
   */
  tail$(from: number): Observable<LogRecord> {
    return new Observable<LogRecord>((subscriber) => {
      const batch = this.options.readBatch ?? 1024;
      let next = Math.max(from, 1);
      let pumping = false;
      let immediate: NodeJS.Immediate | undefined;
      const pump = () => {
        immediate = undefined;
        if (pumping || subscriber.closed) return;
        pumping = true;
        try {
          const to = Math.min(this.head, next + batch - 1);
          if (next <= to) {
            for (const record of this.read(next, to)) {
              subscriber.next(record);
              if (subscriber.closed) return;
            }
            next = to + 1;
          }
          if (next <= this.head) immediate = setImmediate(pump);
        } catch (err) {
          subscriber.error(err);
        } finally {
          pumping = false;
        }
      };
      const heads = this.head$.subscribe((head) => {
        if (head >= next && !immediate) pump();
      });
      return () => {
        heads.unsubscribe();
        if (immediate) clearImmediate(immediate);
      };
    });
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.headMoved.wake();
    await this.writer.settled();
    await this.env.flushed;
    this.head$.complete();
    this.committed$.complete();
    this.appended$.complete();
    await this.env.close();
  }

  /**
   * One batch in one transaction (a conditional write: lmdb-js commits its writes together),
   * written only if the record before it is stored.
   */
  private write(records: readonly LogRecord[], encoded: readonly Buffer[]): Promise<boolean> {
    // the conditional write's promise carries the batch's outcome; the puts' own would only repeat it
    const puts = () => {
      records.forEach((record, i) => {
        this.records.put(record.seq, encoded[i] as never).catch(ignore);
        this.streams.put(streamKey(record.namespace, record.stream), record.version).catch(ignore);
      });
    };
    const first = records[0]!.seq;
    const written = first === 1 ? this.records.ifNoExists(1, puts) : this.records.ifVersion(first - 1, IF_EXISTS, puts);
    return written.catch((err: Error & { commitError?: Promise<unknown> }) => {
      // lmdb-js rejects the writes of a failed commit with a generic error and the cause in a
      // shared promise that rejects a moment later; it must be handled or it ends the process.
      if (!err.commitError) throw this.explained(err);
      return err.commitError.then(
        () => Promise.reject(this.explained(err)),
        (cause: unknown) => Promise.reject(this.explained(cause)),
      );
    });
  }

  /**
   * LMDB reports a full disk as EIO (its page writes fail): when the log's filesystem has (almost)
   * no room left, say so, with code ENOSPC.
   */
  private explained(err: unknown): unknown {
    let free: number;
    try {
      const stats = statfsSync(this.options.dir);
      free = stats.bavail * stats.bsize;
    } catch {
      return err;
    }
    if (free >= LOW_SPACE_BYTES) return err;
    const message = err instanceof Error ? err.message : String(err);
    return Object.assign(new Error(`no space left on device: ${free} bytes free on the log's filesystem (${message})`, { cause: err }), { code: 'ENOSPC' });
  }

  private nextTime(): bigint {
    const now = nowNs();
    this.lastTime = now > this.lastTime ? now : this.lastTime;
    return this.lastTime;
  }
}

const ignore = (): void => undefined;
/** Below this much free space a failed commit is put down to a full disk. */
const LOW_SPACE_BYTES = 4 << 20;

function checked(value: LogRecord | Damage, seq: number): LogRecord {
  if (value instanceof Damage) throw new CorruptLogError(`record ${seq} ${value.reason}`);
  if (value.seq !== seq) throw new CorruptLogError(`record stored under ${seq} says it is ${value.seq}`);
  return value;
}

function firstSeq(records: Database<LogRecord | Damage, number>): number | undefined {
  for (const key of records.getKeys({ limit: 1 })) return key;
  return undefined;
}

function lastSeq(records: Database<LogRecord | Damage, number>): number {
  for (const key of records.getKeys({ reverse: true, limit: 1 })) return key;
  return 0;
}

/**
 * LMDB maps its file and would fault (SIGBUS) on pages past a truncated end, so compare the size
 * its meta page promises with the file's real size before reading any record.
 */
function checkNotTruncated(env: RootDatabase, path: string): void {
  const stats = env.getStats() as { pageSize: number; lastPageNumber: number };
  const needed = (stats.lastPageNumber + 1) * stats.pageSize;
  const actual = statSync(path).size;
  if (actual < needed) {
    throw new CorruptLogError(`${path} is truncated: ${actual} bytes on disk, its last page ends at byte ${needed}`);
  }
}
