import { invalidArgument } from './errdefs.js';

/** containerd's identifier rule (identifiers/validate.go): alphanumerics joined by single . _ - */
const IDENTIFIER = /^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$/;
export const MAX_IDENTIFIER_LENGTH = 76;

/** Throws InvalidArgument naming `field` unless `value` is a valid containerd identifier. */
export function validateIdentifier(value: string, field = 'identifier'): void {
  if (value === '') throw invalidArgument(`${field} must not be empty`);
  if (value.length > MAX_IDENTIFIER_LENGTH) {
    throw invalidArgument(`${field} "${value}" greater than maximum length (${MAX_IDENTIFIER_LENGTH} characters)`);
  }
  if (!IDENTIFIER.test(value)) {
    throw invalidArgument(
      `${field} "${value}" must match ${IDENTIFIER.source}: alphanumeric parts joined by single '.', '_' or '-'`,
    );
  }
}

export function isIdentifier(value: string): boolean {
  return value.length > 0 && value.length <= MAX_IDENTIFIER_LENGTH && IDENTIFIER.test(value);
}
