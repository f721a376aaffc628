import { status as Status, type ServiceError } from '@grpc/grpc-js';
import { AppendConflictError, CorruptLogError, LogClosedError, LogWriteError, UnencodableEventError } from '../log/index.js';
import { boundedMessage, LedgerError, MAX_STATUS_MESSAGE, StatusError } from '../util/errdefs.js';
import { codeOfKind } from '../util/grpc-codes.js';
import { FilterSyntaxError } from '../filters/index.js';

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
  if (err instanceof LogWriteError) return { code: Status.UNAVAILABLE, details: `${err.message}: unavailable` };
  if (err instanceof CorruptLogError) return { code: Status.DATA_LOSS, details: err.message };
  return { code: Status.UNKNOWN, details: err instanceof Error ? err.message : String(err) };
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
