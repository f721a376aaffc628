// Digests (go-digest's rules): validation with containerd's messages, parsing, the canonical
// algorithm. The content store, the commands and the client all check digests here.
import { createHash } from 'node:crypto';
import { invalidArgument } from './errdefs.js';

/** Algorithms a digest may name and the length of their hex encoding (go-digest's registered ones). */
const HEX_LENGTH: Readonly<Record<string, number>> = { sha256: 64, sha384: 96, sha512: 128 };
const DIGEST_SHAPE = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** The only algorithm writers produce (containerd's digest.Canonical). */
export const CANONICAL = 'sha256';

/**
 * Why `value` is not a valid digest, in go-digest's words (Digest.Validate), or undefined when it
 * is one. containerd's content service puts these texts on the wire as they are.
 */
export function digestProblem(value: string): string | undefined {
  const at = value.indexOf(':');
  if (at <= 0 || at + 1 === value.length) return 'invalid checksum digest format';
  const algorithm = value.slice(0, at);
  const hex = value.slice(at + 1);
  const length = HEX_LENGTH[algorithm];
  if (length === undefined) return DIGEST_SHAPE.test(value) ? 'unsupported digest algorithm' : 'invalid checksum digest format';
  if (hex.length !== length) return 'invalid checksum digest length';
  return /^[a-f0-9]+$/.test(hex) ? undefined : 'invalid checksum digest format';
}

export interface ParsedDigest {
  readonly algorithm: string;
  readonly hex: string;
}

/** Splits a digest, or throws InvalidArgument as the backend's blobPath does. */
export function parseDigest(value: string): ParsedDigest {
  const problem = digestProblem(value);
  if (problem) throw invalidArgument(`cannot calculate blob path from invalid digest: ${problem}`);
  const at = value.indexOf(':');
  return { algorithm: value.slice(0, at), hex: value.slice(at + 1) };
}

export const isValidDigest = (value: string): boolean => digestProblem(value) === undefined;

/** Throws InvalidArgument naming `field` unless `value` is `<alg>:<hex>` with a known algorithm. */
export function validateDigest(value: string, field = 'digest'): void {
  if (!isValidDigest(value)) {
    throw invalidArgument(`${field} "${value}": invalid digest: must be sha256:<64 hex>, sha384:<96 hex> or sha512:<128 hex>`);
  }
}

/** sha256 of a string, hex: names an ingest directory after its backend ref. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The digest of nothing: what a writer reports before any byte arrived. */
export const EMPTY_DIGEST = `${CANONICAL}:${sha256Hex('')}`;
