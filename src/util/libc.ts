import koffi from 'koffi';
import { errnoName } from './errno.js';

/** The few libc calls node lacks, bound through koffi on first use (a shim that never needs them never loads them). */
interface Libc {
  getsockopt(fd: number, level: number, name: number, value: Buffer, length: number[]): number;
  mkfifo(path: string, mode: number): number;
}

let libc: Libc | undefined;

export function lib(): Libc {
  if (!libc) {
    const c = koffi.load('libc.so.6');
    libc = {
      getsockopt: c.func('int getsockopt(int fd, int level, int optname, _Out_ uint8_t *optval, _Inout_ uint32_t *optlen)') as Libc['getsockopt'],
      mkfifo: c.func('int mkfifo(const char *path, uint32_t mode)') as Libc['mkfifo'],
    };
  }
  return libc;
}

/** An Error shaped like node:fs's for the errno of the last failed libc call. */
export function errnoError(syscall: string, path?: string): NodeJS.ErrnoException {
  const errno = koffi.errno();
  const code = errnoName(errno) ?? `E${errno}`;
  const err: NodeJS.ErrnoException = new Error(`${code}: ${syscall}${path ? ` ${path}` : ''} failed (errno ${errno})`);
  Object.assign(err, { errno, code, syscall, path });
  return err;
}
