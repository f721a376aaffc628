/**
 * Error classes shared by every layer, mirroring containerd's errdefs. Services map them to gRPC
 * codes (services/grpc-errors.ts); anything that is not one of these becomes Unknown.
 * Messages follow containerd's convention: human text, then ": <class text>" is added by the
 * gRPC mapping, so `ctr` prints what containerd would.
 */
export type ErrorKind =
  | 'invalid argument'
  | 'not found'
  | 'already exists'
  | 'failed precondition'
  | 'unavailable'
  | 'not implemented'
  | 'conflict';

/** Longest stretch of one echoed value an error message keeps, and the longest message. */
const MAX_SHOWN = 256;
const MAX_MESSAGE = 2048;
// '…' ends a run, so a message already cut is left as it is
const LONG_RUN = new RegExp(`[^\\s"'\`…]{${MAX_SHOWN + 1},}`, 'g');

function cut(text: string, length: number): string {
  const kept = text.slice(0, length);
  // never end on half of a surrogate pair
  const code = kept.charCodeAt(kept.length - 1);
  return code >= 0xd800 && code <= 0xdbff ? kept.slice(0, -1) : kept;
}

/** A client's value (a name, key, ref) as an error message shows it: at most MAX_SHOWN characters, the length said. */
export function shown(value: string): string {
  return value.length <= MAX_SHOWN ? value : `${cut(value, MAX_SHOWN)}…(${Buffer.byteLength(value)} bytes)`;
}

/**
 * An error message fit for a gRPC status: every unbroken run longer than MAX_SHOWN (an echoed
 * name or key) is cut as `shown` cuts it, and the whole to MAX_MESSAGE. A status message is sent
 * in an HTTP/2 trailer, and a 64 KiB name echoed in it makes a trailer so large that the call
 * never answers.
 */
export function boundedMessage(message: string, max: number = MAX_MESSAGE): string {
  if (message.length <= MAX_SHOWN) return message;
  const runsCut = message.replace(LONG_RUN, shown);
  return runsCut.length <= max ? runsCut : `${cut(runsCut, max)}…(message cut, ${Buffer.byteLength(message)} bytes)`;
}

/** Room for the class suffix (": invalid argument") the gRPC mapping adds to a bounded message. */
export const MAX_STATUS_MESSAGE = MAX_MESSAGE + 128;

export class LedgerError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
  ) {
    super(boundedMessage(message));
    this.name = 'LedgerError';
  }
}

export const invalidArgument = (message: string) => new LedgerError('invalid argument', message);
export const notFound = (message: string) => new LedgerError('not found', message);
export const alreadyExists = (message: string) => new LedgerError('already exists', message);
export const failedPrecondition = (message: string) => new LedgerError('failed precondition', message);
export const unavailable = (message: string) => new LedgerError('unavailable', message);
export const notImplemented = (message: string) => new LedgerError('not implemented', message);

export function isKind(err: unknown, kind: ErrorKind): err is LedgerError {
  return err instanceof LedgerError && err.kind === kind;
}

/**
 * An error that already carries its gRPC status (a shim's ttrpc status, or a message containerd
 * sends without a class suffix, e.g. `task x not found`): passed on as it is.
 */
export class StatusError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(boundedMessage(message));
    this.name = 'StatusError';
  }
}
