import { Code } from '../shims/wire/ttrpc/index.js';

const NAMES = new Map<number, string>(Object.entries(Code).map(([name, code]) => [code, name]));

/** A status code as Go's codes.Code.String() names it ("OK", "NotFound", ...): the grpc_code label. */
export function codeName(code: number | undefined): string {
  return NAMES.get(code ?? 0) ?? `Code(${code})`;
}
