// Descriptors a library opened without O_CLOEXEC are inherited by every process the daemon
// starts. LMDB opens its data file that way: each shim and runc child kept the daemon's
// events.mdb open, for as long as it ran. Node's own descriptors are close-on-exec already;
// this marks the rest, so children get only what they are handed (stdio, fd 3 of a shim).
import { readdirSync } from 'node:fs';
import { bindLibc } from './libc.js';

const F_GETFD = 1;
const F_SETFD = 2;
const FD_CLOEXEC = 1;

const libc = bindLibc<{ fcntl(fd: number, cmd: number, arg: number): number }>({ fcntl: 'int fcntl(int fd, int cmd, int arg)' });

/** Sets FD_CLOEXEC on every open descriptor above stderr that lacks it; returns those it marked. */
export function closeOnExecAbove2(): number[] {
  const { fcntl } = libc();
  const marked: number[] = [];
  for (const name of readdirSync('/proc/self/fd')) {
    const fd = Number(name);
    if (fd <= 2) continue;
    const flags = fcntl(fd, F_GETFD, 0);
    // -1: the descriptor of the directory listing itself, closed by now
    if (flags < 0 || flags & FD_CLOEXEC) continue;
    if (fcntl(fd, F_SETFD, flags | FD_CLOEXEC) === 0) marked.push(fd);
  }
  return marked;
}
