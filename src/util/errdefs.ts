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

export class LedgerError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
  ) {
    super(message);
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
    super(message);
    this.name = 'StatusError';
  }
}
