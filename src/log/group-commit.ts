import { encodeEvent, encodeRecord, type EncodedEvent } from './codec.js';
import { AppendConflictError, LogWriteError } from './errors.js';
import { streamKey, type ExpectedVersion, type LogRecord, type NewEvent } from './record.js';

export interface StreamExpectation {
  readonly namespace: string;
  readonly stream: string;
  readonly version: ExpectedVersion;
}

export interface AppendResult {
  readonly first: number;
  readonly last: number;
  readonly records: readonly LogRecord[];
}

/** What the group commit needs of the store under it. */
export interface CommitStore {
  /** Highest sequence number stored, at start. */
  storedHead(): number;
  /** Version of a stream as stored (0: no such stream). */
  storedVersion(key: string): number;
  /**
   * Writes one batch in one transaction, only if the record before its first is stored: resolves
   * true once durable, false when that record is missing (an earlier batch failed), rejects when
   * the transaction failed.
   */
  write(records: readonly LogRecord[], encoded: readonly Buffer[]): Promise<boolean>;
  /** Wall-clock time of a batch, nanoseconds, never going back. */
  time(): bigint;
}

interface QueuedAppend {
  readonly events: readonly NewEvent[];
  readonly encoded: readonly EncodedEvent[];
  readonly expected: readonly StreamExpectation[];
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (err: Error) => void;
}

interface Batch {
  readonly appends: { append: QueuedAppend; records: LogRecord[] }[];
  readonly records: LogRecord[];
  readonly encoded: Buffer[];
}

/**
 * Group commit. An append is encoded and checked when it is made, so an event that cannot be
 * stored is refused to its caller alone and never joins a batch. The appends of one event turn
 * form a batch, written in one transaction; batches are pipelined (the next is handed to LMDB
 * while the last is being flushed), and each is written only if the record before it is
 * stored. So when a transaction fails, its appends are refused, the batches behind it write
 * nothing and are queued again, numbering restarts from what is stored: no gap, and the log
 * goes on taking appends.
 */
export class GroupCommit {
  private queue: QueuedAppend[] = [];
  /** Appends of batches not written because one before them failed, in order: they go first. */
  private retry: QueuedAppend[] = [];
  private scheduled = false;
  /** Batches handed to the store and not yet settled. */
  private inFlight = 0;
  /** A transaction failed: issue nothing until the batches in flight have settled. */
  private draining = false;
  private lastIssuedSeq: number;
  /** Highest sequence number known stored (kept here: after a failure LMDB's read snapshot may lag). */
  private durableSeq: number;
  /** Versions given to records in flight, pruned once stored. */
  private issuedVersions = new Map<string, number>();
  /** Versions counting queued appends as well, for the early conflict check. */
  private projected = new Map<string, number>();
  private readonly outstanding = new Set<Promise<unknown>>();

  constructor(
    private readonly store: CommitStore,
    private readonly onDurable: (records: readonly LogRecord[], encoded: readonly Buffer[]) => void,
  ) {
    this.lastIssuedSeq = this.durableSeq = store.storedHead();
  }

  /** A stream's version counting appends not yet durable. */
  streamVersion(namespace: string, stream: string): number {
    const key = streamKey(namespace, stream);
    return this.projected.get(key) ?? this.issuedVersion(key);
  }

  /** Throws UnencodableEventError; rejects with AppendConflictError or LogWriteError. */
  append(events: readonly NewEvent[], expected: readonly StreamExpectation[]): Promise<AppendResult> {
    const encoded = events.map((event) => encodeEvent({ ...event, schema: event.schema ?? 1, meta: event.meta ?? {} }));
    // Checked against appends not yet stored too, so of two concurrent creates of one id the
    // second is refused at once; checked again when its batch is issued.
    const conflict = findConflict(expected, (namespace, stream) => this.streamVersion(namespace, stream));
    if (conflict) return Promise.reject(conflict);
    for (const event of events) {
      this.projected.set(streamKey(event.namespace, event.stream), this.streamVersion(event.namespace, event.stream) + 1);
    }
    const promise = new Promise<AppendResult>((resolve, reject) => {
      this.queue.push({ events, encoded, expected, resolve, reject });
      this.schedule();
    });
    const forget = (): void => void this.outstanding.delete(settled);
    const settled: Promise<void> = promise.then(forget, forget);
    this.outstanding.add(settled);
    return promise;
  }

  /** A stream's durable version, when no append to it is queued or being written. */
  settledVersion(namespace: string, stream: string): number | undefined {
    const key = streamKey(namespace, stream);
    return this.projected.has(key) || this.issuedVersions.has(key) ? undefined : this.store.storedVersion(key);
  }

  /** Whether no append is queued or being written. */
  get quiet(): boolean {
    return this.outstanding.size === 0;
  }

  /** Resolves once every append made before the call is durable or refused. */
  async settled(): Promise<void> {
    await Promise.all([...this.outstanding]);
  }

  private issuedVersion(key: string): number {
    return this.issuedVersions.get(key) ?? this.store.storedVersion(key);
  }

  private schedule(): void {
    if (this.scheduled || this.draining) return;
    this.scheduled = true;
    // the appends of this event turn join one batch
    queueMicrotask(() => {
      this.scheduled = false;
      this.issue();
    });
  }

  private issue(): void {
    if (this.draining || this.queue.length === 0) return;
    const queued = this.queue;
    this.queue = [];
    const batch = this.number(queued);
    if (batch.records.length === 0) return;
    this.inFlight++;
    written(() => this.store.write(batch.records, batch.encoded)).then(
      (written) => {
        if (written) return this.stored(batch);
        // the record before this batch is missing: an earlier batch failed; try again in order
        this.draining = true;
        this.retry.push(...batch.appends.map(({ append }) => append));
      },
      (err: unknown) => {
        this.draining = true;
        const failure = new LogWriteError(err, err instanceof Error ? err.message : String(err));
        for (const { append } of batch.appends) append.reject(failure);
      },
    ).finally(() => {
      this.inFlight--;
      if (this.draining && this.inFlight === 0) this.restart();
    });
  }

  /** Gives the queued appends their sequence numbers and versions; refuses those whose expectation no longer holds. */
  private number(queued: readonly QueuedAppend[]): Batch {
    const versions = new Map<string, number>();
    const versionOf = (namespace: string, stream: string) => {
      const key = streamKey(namespace, stream);
      return versions.get(key) ?? this.issuedVersion(key);
    };
    const time = this.store.time();
    const batch: Batch = { appends: [], records: [], encoded: [] };
    for (const append of queued) {
      const conflict = findConflict(append.expected, versionOf);
      if (conflict) {
        append.reject(conflict);
        continue;
      }
      const records = append.events.map((event): LogRecord => {
        const version = versionOf(event.namespace, event.stream) + 1;
        versions.set(streamKey(event.namespace, event.stream), version);
        return {
          seq: ++this.lastIssuedSeq,
          time,
          namespace: event.namespace,
          stream: event.stream,
          version,
          type: event.type,
          schema: event.schema ?? 1,
          payload: event.payload,
          meta: event.meta ?? {},
        };
      });
      batch.appends.push({ append, records });
      batch.records.push(...records);
      records.forEach((record, i) => batch.encoded.push(encodeRecord(record, append.encoded[i])));
    }
    for (const [key, version] of versions) this.issuedVersions.set(key, version);
    return batch;
  }

  private stored(batch: Batch): void {
    for (const record of batch.records) {
      const key = streamKey(record.namespace, record.stream);
      if (this.issuedVersions.get(key) === record.version) this.issuedVersions.delete(key);
      if (this.projected.get(key) === record.version) this.projected.delete(key);
    }
    this.durableSeq = Math.max(this.durableSeq, batch.records[batch.records.length - 1]!.seq);
    this.onDurable(batch.records, batch.encoded);
    for (const { append, records } of batch.appends) {
      append.resolve({ first: records[0]!.seq, last: records[records.length - 1]!.seq, records });
    }
  }

  /** Every batch in flight has settled after a failure: number again from what is stored. */
  private restart(): void {
    this.draining = false;
    this.queue = [...this.retry, ...this.queue];
    this.retry = [];
    this.lastIssuedSeq = this.durableSeq;
    this.issuedVersions = new Map();
    this.projected = new Map();
    for (const append of this.queue) {
      for (const event of append.events) {
        const key = streamKey(event.namespace, event.stream);
        this.projected.set(key, (this.projected.get(key) ?? this.store.storedVersion(key)) + 1);
      }
    }
    this.schedule();
  }
}

/** A write that throws at once fails like one that rejects. */
function written(write: () => Promise<boolean>): Promise<boolean> {
  try {
    return write();
  } catch (err) {
    return Promise.reject(err);
  }
}

function findConflict(
  expected: readonly StreamExpectation[],
  versionOf: (namespace: string, stream: string) => number,
): AppendConflictError | undefined {
  for (const expectation of expected) {
    const actual = versionOf(expectation.namespace, expectation.stream);
    if (!versionMatches(expectation.version, actual)) {
      return new AppendConflictError(streamKey(expectation.namespace, expectation.stream), expectation.version, actual);
    }
  }
  return undefined;
}

function versionMatches(expected: ExpectedVersion, actual: number): boolean {
  if (expected === 'any') return true;
  if (expected === 'exists') return actual > 0;
  return expected === actual;
}
