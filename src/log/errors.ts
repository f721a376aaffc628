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

/** A write to the log failed: the log refuses further appends, since sequence numbers were reserved. */
export class LogClosedError extends Error {
  constructor(reason: string) {
    super(`event log is closed: ${reason}`);
    this.name = 'LogClosedError';
  }
}
