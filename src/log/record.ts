/** What a command asks the log to append: one event of one stream. */
export interface NewEvent {
  readonly namespace: string;
  /** Aggregate stream inside the namespace, e.g. "containers/redis" or "namespace". */
  readonly stream: string;
  readonly type: string;
  /** Schema version of `payload`; old versions are upcast on read. */
  readonly schema?: number;
  readonly payload: unknown;
  readonly meta?: RecordMeta;
}

/** Who asked for a change, as far as the daemon can tell. */
export interface RecordMeta {
  /** The calling process, from SO_PEERCRED on the daemon's unix socket. */
  readonly peerUid?: number;
  readonly peerGid?: number;
  readonly peerPid?: number;
  /** For records the daemon writes on its own: which part ("gc", "shim", "reconciler", "daemon"). */
  readonly actor?: string;
  readonly userAgent?: string;
  readonly requestId?: string;
  /** The namespace header of the request that caused the event (may differ from the record's). */
  readonly requestNamespace?: string;
  readonly reason?: string;
  readonly [key: string]: unknown;
}

/** An event as stored: never rewritten once appended. */
export interface LogRecord {
  readonly seq: number;
  /** Wall-clock time of the append, nanoseconds since the Unix epoch. */
  readonly time: bigint;
  readonly namespace: string;
  readonly stream: string;
  /** 1-based position of this record inside its stream. */
  readonly version: number;
  readonly type: string;
  readonly schema: number;
  readonly payload: unknown;
  readonly meta: RecordMeta;
}

/**
 * Expected version of a stream before an append (optimistic concurrency):
 * a number is the exact count of events the stream must hold (0 = the stream must not exist),
 * 'exists' requires at least one event, 'any' checks nothing.
 */
export type ExpectedVersion = number | 'exists' | 'any';

/** Stream key inside the log: namespaces are identifiers, so "/" cannot be ambiguous. */
export function streamKey(namespace: string, stream: string): string {
  return `${namespace}/${stream}`;
}

/** Rewrites payloads of older schema versions into the current shape, on read. */
export type Upcaster = (record: LogRecord) => LogRecord;
