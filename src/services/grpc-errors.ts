import { status as Status, type ServiceError } from '@grpc/grpc-js';
import { AppendConflictError, CorruptLogError, LogClosedError, LogWriteError, UnencodableEventError } from '../log/index.js';
import { boundedMessage, LedgerError, MAX_STATUS_MESSAGE, StatusError } from '../util/errdefs.js';
import { codeOfKind } from '../util/grpc-codes.js';
import { FilterSyntaxError } from '../filters/index.js';
import { MountError } from '../util/mount/index.js';

/**
 * containerd's errdefs mapping (errdefs/grpc.go): the class becomes the code and the message
 * ends in ": <class>", which the Go client strips again, so ctr prints what it prints for containerd.
 */
export function toServiceError(err: unknown): Partial<ServiceError> {
  const status = statusOf(err);
  return { code: status.code, details: boundedMessage(status.details, MAX_STATUS_MESSAGE) };
}

function statusOf(err: unknown): { code: Status; details: string } {
  if (err instanceof GrpcStatusError || err instanceof StatusError) return { code: err.code, details: err.message };
  if (err instanceof LedgerError) return { code: codeOfKind(err.kind), details: `${err.message}: ${err.kind}` };
  if (err instanceof FilterSyntaxError) return { code: Status.INVALID_ARGUMENT, details: `${err.message}: invalid argument` };
  if (err instanceof AppendConflictError) return { code: Status.ABORTED, details: err.message };
  if (err instanceof LogClosedError) return { code: Status.UNAVAILABLE, details: `${err.message}: unavailable` };
  if (err instanceof UnencodableEventError) return { code: Status.INVALID_ARGUMENT, details: `${err.message}: invalid argument` };
  if (err instanceof LogWriteError) {
    return err.noSpace ? { code: Status.RESOURCE_EXHAUSTED, details: err.message } : { code: Status.UNAVAILABLE, details: `${err.message}: unavailable` };
  }
  if (err instanceof CorruptLogError) return { code: Status.DATA_LOSS, details: err.message };
  // a mount the request named that the kernel refuses (unknown type, missing source, bad options)
  if (err instanceof MountError) return { code: Status.INVALID_ARGUMENT, details: `${err.message}: invalid argument` };
  const message = err instanceof Error ? err.message : String(err);
  const errno = errnoOf(err);
  if (errno && UNREACHABLE.has(errno)) return { code: Status.UNAVAILABLE, details: `${message}: unavailable` };
  if (errno === 'ENOSPC') return { code: Status.RESOURCE_EXHAUSTED, details: message };
  return { code: Status.UNKNOWN, details: message };
}

/** A remote (a registry) that cannot be reached now: worth a retry, so Unavailable. */
const UNREACHABLE = new Set(['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT']);

/** The system error code of an error or of its cause (undici wraps the socket's error in `cause`). */
function errnoOf(err: unknown): string | undefined {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 6; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/**
 * A status a service sets itself, sent as it is (no class suffix): containerd's services do this
 * with status.Errorf for protocol errors (e.g. OutOfRange, DataLoss), and ToGRPC passes them on.
 */
export class GrpcStatusError extends Error {
  constructor(
    readonly code: Status,
    message: string,
  ) {
    super(message);
    this.name = 'GrpcStatusError';
  }
}
