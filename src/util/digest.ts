import { invalidArgument } from './errdefs.js';

/** Digest algorithms containerd accepts and the length of their hex encoding. */
const HEX_LENGTH: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

export function isDigest(value: string): boolean {
  const at = value.indexOf(':');
  if (at <= 0) return false;
  const length = HEX_LENGTH[value.slice(0, at)];
  return length !== undefined && new RegExp(`^[a-f0-9]{${length}}$`).test(value.slice(at + 1));
}

/** Throws InvalidArgument naming `field` unless `value` is `<alg>:<hex>` with a known algorithm. */
export function validateDigest(value: string, field = 'digest'): void {
  if (!isDigest(value)) {
    throw invalidArgument(`${field} "${value}": invalid digest: must be sha256:<64 hex>, sha384:<96 hex> or sha512:<128 hex>`);
  }
}
