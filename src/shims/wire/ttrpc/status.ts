import { LedgerError, StatusError } from '../../../util/errdefs.js';
import { Code, codeName, codeOfKind, type CodeNumber } from '../../../util/grpc-codes.js';

export { Code, type CodeNumber };

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
    return codeName(this.code);
  }
}

/** ttrpc.ErrClosed: the connection is gone; every call pending on it fails with this. */
export class TtrpcClosedError extends Error {
  constructor(options?: ErrorOptions) {
    // with its cause (a protocol error, a reset): the caller learns why
    super(options?.cause instanceof Error ? `ttrpc: closed: ${options.cause.message}` : 'ttrpc: closed', options);
    this.name = 'TtrpcClosedError';
  }
}

export const isClosedError = (err: unknown): err is TtrpcClosedError => err instanceof TtrpcClosedError;

export const deadlineExceeded = () => new TtrpcError(Code.DeadlineExceeded, 'context deadline exceeded');
export const canceled = () => new TtrpcError(Code.Canceled, 'context canceled');

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
  if (err instanceof LedgerError) return { code: codeOfKind(err.kind), message: `${err.message}: ${err.kind}` };
  if (err instanceof Error) {
    if (err.name === 'TimeoutError') return { code: Code.DeadlineExceeded, message: 'context deadline exceeded' };
    if (err.name === 'AbortError') return { code: Code.Canceled, message: 'context canceled' };
    const errno = (err as NodeJS.ErrnoException).code;
    return { code: (errno && ERRNO_CODES[errno]) || Code.Unknown, message: err.message };
  }
  return { code: Code.Unknown, message: String(err) };
}
