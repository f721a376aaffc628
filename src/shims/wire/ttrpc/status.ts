import { LedgerError, StatusError, type ErrorKind } from '../../../util/errdefs.js';

/** google.rpc.Code: the numbers ttrpc puts in Response.status.code (the same as gRPC's). */
export const Code = {
  OK: 0,
  Canceled: 1,
  Unknown: 2,
  InvalidArgument: 3,
  DeadlineExceeded: 4,
  NotFound: 5,
  AlreadyExists: 6,
  PermissionDenied: 7,
  ResourceExhausted: 8,
  FailedPrecondition: 9,
  Aborted: 10,
  OutOfRange: 11,
  Unimplemented: 12,
  Internal: 13,
  Unavailable: 14,
  DataLoss: 15,
  Unauthenticated: 16,
} as const;

export type CodeNumber = (typeof Code)[keyof typeof Code];

const CODE_NAMES = new Map<number, string>(Object.entries(Code).map(([name, code]) => [code, name]));

/** A google.rpc.Status as the wire carries it. */
export interface Status {
  readonly code: number;
  readonly message: string;
  readonly details?: readonly { type_url: string; value: Uint8Array }[];
}

/**
 * A call that failed with a status: the peer's answer, or a deadline/cancellation on this side.
 * It is a StatusError, so the daemon's gRPC layer passes a shim's code and message on unchanged
 * (what containerd's errdefs.FromGRPC then ToGRPC amounts to on the wire).
 */
export class TtrpcError extends StatusError {
  constructor(
    code: number,
    message: string,
    readonly details: Status['details'] = [],
  ) {
    super(code, message);
    this.name = 'TtrpcError';
  }

  get codeName(): string {
    return CODE_NAMES.get(this.code) ?? `Code(${this.code})`;
  }
}

/** ttrpc.ErrClosed: the connection is gone; every call pending on it fails with this. */
export class TtrpcClosedError extends Error {
  constructor(options?: ErrorOptions) {
    super('ttrpc: closed', options);
    this.name = 'TtrpcClosedError';
  }
}

export const isClosedError = (err: unknown): err is TtrpcClosedError => err instanceof TtrpcClosedError;

export const deadlineExceeded = () => new TtrpcError(Code.DeadlineExceeded, 'context deadline exceeded');
export const canceled = () => new TtrpcError(Code.Canceled, 'context canceled');

/** errdefs kinds and their codes (containerd's errdefs/grpc.go ToGRPC). */
const KIND_CODES: [ErrorKind, CodeNumber][] = [
  ['invalid argument', Code.InvalidArgument],
  ['not found', Code.NotFound],
  ['already exists', Code.AlreadyExists],
  ['failed precondition', Code.FailedPrecondition],
  ['unavailable', Code.Unavailable],
  ['not implemented', Code.Unimplemented],
  ['conflict', Code.Aborted],
];
const CODE_OF_KIND = new Map(KIND_CODES);

/** Node's errno codes as ttrpc maps Go's os errors (ttrpc/services.go convertCode). */
const ERRNO_CODES: Record<string, CodeNumber> = {
  ENOENT: Code.NotFound,
  EEXIST: Code.AlreadyExists,
  EACCES: Code.PermissionDenied,
  EPERM: Code.PermissionDenied,
  EPIPE: Code.FailedPrecondition,
};

/**
 * What a handler's error becomes on the wire. A TtrpcError keeps its code; an errdefs error
 * gets its kind's code and containerd's message form "<message>: <kind>" (so a Go client's
 * errdefs.FromGRPC reads the same class); aborts are Canceled/DeadlineExceeded; errno errors
 * as ttrpc maps os errors; anything else is Unknown with its message.
 */
export function statusFromError(err: unknown): Status {
  if (err instanceof TtrpcError) return { code: err.code, message: err.message, details: err.details };
  if (err instanceof LedgerError) return { code: CODE_OF_KIND.get(err.kind) ?? Code.Unknown, message: `${err.message}: ${err.kind}` };
  if (err instanceof Error) {
    if (err.name === 'TimeoutError') return { code: Code.DeadlineExceeded, message: 'context deadline exceeded' };
    if (err.name === 'AbortError') return { code: Code.Canceled, message: 'context canceled' };
    const errno = (err as NodeJS.ErrnoException).code;
    return { code: (errno && ERRNO_CODES[errno]) || Code.Unknown, message: err.message };
  }
  return { code: Code.Unknown, message: String(err) };
}
