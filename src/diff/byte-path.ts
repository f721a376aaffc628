/**
 * Paths inside the layer engine are "byte strings": one JS char per byte (latin1), so a name read
 * from a tar stays byte-exact (Go keeps names as raw bytes; a UTF-8 decode would mangle non-UTF-8
 * names). Every filesystem call gets `bytes(p)`; messages show `display(p)`.
 */
export type BytePath = string;

/** A normal (UTF-8) JS path as a byte string. */
export const fromUtf8 = (p: string): BytePath => Buffer.from(p, 'utf8').toString('latin1');

/** The bytes of a byte-string path, for `node:fs` calls. */
export const bytes = (p: BytePath): Buffer => Buffer.from(p, 'latin1');

/** NUL-terminated bytes, for C calls. */
export function cString(p: BytePath): Buffer {
  const b = Buffer.allocUnsafe(p.length + 1);
  b.write(p, 0, 'latin1');
  b[p.length] = 0;
  return b;
}

/** A byte-string path as readable text (invalid UTF-8 shown as U+FFFD). */
export const display = (p: BytePath): string => Buffer.from(p, 'latin1').toString('utf8');

/** Joins a host directory and a relative byte path. */
export const join = (dir: BytePath, rel: BytePath): BytePath => (rel === '' ? dir : dir === '/' ? `/${rel}` : `${dir}/${rel}`);
