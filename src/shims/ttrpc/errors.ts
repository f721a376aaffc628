/** A ttrpc call that failed with a status (google.rpc.Status codes, as gRPC's). */
export class TtrpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'TtrpcError';
  }
}

export const Code = {
  Canceled: 1,
  Unknown: 2,
  InvalidArgument: 3,
  DeadlineExceeded: 4,
  NotFound: 5,
  AlreadyExists: 6,
  PermissionDenied: 7,
  ResourceExhausted: 8,
  FailedPrecondition: 9,
  OutOfRange: 11,
  Unimplemented: 12,
  Unavailable: 14,
} as const;

/** The connection closed with the call in flight (ttrpc's ErrClosed). */
export class TtrpcClosedError extends TtrpcError {
  constructor() {
    super(Code.Unavailable, 'ttrpc: closed');
    this.name = 'TtrpcClosedError';
  }
}
