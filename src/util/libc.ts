// libc through koffi, for the system calls Node lacks. One loader: koffi is required and
// libc.so.6 opened on the first call any module makes, and each module binds its own functions
// with bindLibc (a process that never calls them never loads koffi, ~17 ms of CPU: the shim's
// `start` action pays it for one call, the flock of its socket directory).
import { createRequire } from 'node:module';
import { errnoName } from './errno.js';

export type Koffi = typeof import('koffi');
/** A bound C function: called directly, or with `.async(...args, callback)` on a koffi worker thread. */
export type LibcFn = ((...args: unknown[]) => number) & { async: (...args: unknown[]) => void };

let loaded: { koffi: Koffi; libc: ReturnType<Koffi['load']> } | undefined;

function load(): { koffi: Koffi; libc: ReturnType<Koffi['load']> } {
  if (!loaded) {
    const koffi = createRequire(import.meta.url)('koffi') as Koffi;
    loaded = { koffi, libc: koffi.load('libc.so.6') };
  }
  return loaded;
}

/** koffi itself (alloc, view, address, free), loaded on first use. */
export const koffi = (): Koffi => load().koffi;

/** The errno the last failed libc call left on this thread. */
export const lastErrno = (): number => load().koffi.errno();

/** libc functions from their C declarations (name -> declaration), bound when the getter is first called. */
export function bindLibc<T>(decls: { readonly [K in keyof T]: string }): () => T {
  let fns: T | undefined;
  return () => {
    if (!fns) {
      const { libc } = load();
      fns = Object.fromEntries(Object.entries<string>(decls).map(([name, decl]) => [name, libc.func(decl)])) as unknown as T;
    }
    return fns;
  };
}

/** An Error shaped like node:fs's for the errno of the last failed libc call. */
export function errnoError(syscall: string, path?: string): NodeJS.ErrnoException {
  const errno = lastErrno();
  const code = errnoName(errno) ?? `E${errno}`;
  const err: NodeJS.ErrnoException = new Error(`${code}: ${syscall}${path ? ` ${path}` : ''} failed (errno ${errno})`);
  Object.assign(err, { errno, code, syscall, path });
  return err;
}
