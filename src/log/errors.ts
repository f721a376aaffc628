import type { ExpectedVersion } from './record.js';

/** An append whose expected stream version did not hold; the whole batch was refused. */
export class AppendConflictError extends Error {
  constructor(
    readonly stream: string,
    readonly expected: ExpectedVersion,
    readonly actual: number,
  ) {
    super(`append conflict on stream "${stream}": expected version ${String(expected)}, found ${actual}`);
    this.name = 'AppendConflictError';
  }
}

/** The log on disk is not what was written: truncated, a record that does not decode, a gap. */
export class CorruptLogError extends Error {
  constructor(message: string) {
    super(`event log corrupt: ${message}`);
    this.name = 'CorruptLogError';
  }
}

/** The log is shut down (or shutting down) and takes no more appends. */
export class LogClosedError extends Error {
  constructor(reason: string) {
    super(`event log is closed: ${reason}`);
    this.name = 'LogClosedError';
  }
}

/** An event the record format cannot hold; refused before it joins a group commit, so nothing else fails with it. */
export class UnencodableEventError extends Error {
  constructor(reason: string) {
    super(`event cannot be recorded: ${reason}`);
    this.name = 'UnencodableEventError';
  }
}

/**
 * The transaction that carried an append failed (disk full, map full, I/O error): that append,
 * and only the appends committed with it, are refused; nothing of them is in the log, and the
 * log goes on taking appends.
 */
export class LogWriteError extends Error {
  constructor(
    override readonly cause: unknown,
    readonly reason: string,
  ) {
    super(`event log write failed: ${reason}`);
    this.name = 'LogWriteError';
  }

  /** The disk under the log is full: free space, and the next append succeeds. */
  get noSpace(): boolean {
    return (this.cause as { code?: unknown } | undefined)?.code === 'ENOSPC';
  }
}
