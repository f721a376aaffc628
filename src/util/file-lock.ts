// An exclusive flock(2) across processes (Node has none), through koffi. The kernel drops the
// lock when its descriptor closes, also when its process dies: a crashed holder never leaves it
// held. Locks are per open file description, so two holders in one process exclude each other too.
import { closeSync, openSync } from 'node:fs';
import { bindLibc, errnoError, lastErrno, type LibcFn } from './libc.js';

const LOCK_EX = 2;
const EINTR = 4;

const libc = bindLibc<{ flock: LibcFn }>({ flock: 'int flock(int fd, int operation)' });

/**
 * Runs `fn` holding an exclusive lock on `path`, an existing file or directory (a directory
 * needs no lock file beside it). The wait is on a koffi worker thread: the event loop goes on.
 */
export async function withExclusiveLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const fd = openSync(path, 'r');
  try {
    await lock(fd, path);
    return await fn();
  } finally {
    closeSync(fd);
  }
}

function lock(fd: number, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    libc().flock.async(fd, LOCK_EX, (err: unknown, result: number) => {
      if (err) return reject(err);
      if (result === 0) return resolve();
      if (lastErrno() === EINTR) return resolve(lock(fd, path));
      reject(errnoError('flock', path));
    });
  });
}
