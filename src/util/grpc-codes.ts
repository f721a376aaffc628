// google.rpc.Code, the status numbers both gRPC and ttrpc carry, and the code of each errdefs
// kind (containerd's errdefs/grpc.go ToGRPC). Every layer that names a code takes it from here.
import type { ErrorKind } from './errdefs.js';

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

/** "NotFound" for 5; "Code(n)" for a number google.rpc.Code does not define. */
export const codeName = (code: number): string => CODE_NAMES.get(code) ?? `Code(${code})`;

const CODE_OF_KIND: Record<ErrorKind, CodeNumber> = {
  'invalid argument': Code.InvalidArgument,
  'not found': Code.NotFound,
  'already exists': Code.AlreadyExists,
  'failed precondition': Code.FailedPrecondition,
  unavailable: Code.Unavailable,
  'not implemented': Code.Unimplemented,
  conflict: Code.Aborted,
};

/** The status code of an errdefs kind. */
export const codeOfKind = (kind: ErrorKind): CodeNumber => CODE_OF_KIND[kind];
