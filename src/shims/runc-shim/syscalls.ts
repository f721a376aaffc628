// The few Linux system calls Node does not offer, through koffi (libc). Loaded on first use:
// the shim's `start` action never pays for it.
import { errnoName } from '../../util/errno.js';
import { bindLibc, koffi as loadKoffi, type Koffi, type LibcFn } from '../../util/libc.js';

const PR_SET_CHILD_SUBREAPER = 36;
export const WNOHANG = 1;
const WEXITED = 4;
const WNOWAIT = 0x01000000;
const P_ALL = 0;
// siginfo_t is 128 bytes; si_pid follows si_signo, si_errno, si_code and padding on 64-bit Linux
const SIGINFO_SIZE = 128;
const SIGINFO_PID_OFFSET = 16;
const O_CLOEXEC = 0o2000000;
const O_NONBLOCK = 0o4000;
const EFD_CLOEXEC = O_CLOEXEC;
const EPOLL_CLOEXEC = O_CLOEXEC;
const EPOLL_CTL_ADD = 1;
const EPOLL_CTL_DEL = 2;
const EPOLLIN = 0x1;
const MSG_DONTWAIT = 0x40;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const TIOCSWINSZ = 0x5414;
const FIONREAD = 0x541b;
const F_DUPFD_CLOEXEC = 1030;
const F_GETFL = 3;
const F_SETFL = 4;
const O_RDONLY = 0;
const O_WRONLY = 1;
const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
// glibc's opaque types, over-allocated: posix_spawn_file_actions_t is 80 bytes on x86_64 and
// arm64, posix_spawnattr_t 336, sigset_t 128
const SPAWN_ACTIONS_SIZE = 256;
const SPAWN_ATTR_SIZE = 512;
const SIGSET_SIZE = 128;
const EINTR = 4;
const EAGAIN = 11;
const ECHILD = 10;

const DECLS = {
  prctl: 'int prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)',
  waitpid: 'int waitpid(int pid, _Out_ int *status, int options)',
  waitid: 'int waitid(int idtype, int id, void *infop, int options)',
  pipe2: 'int pipe2(_Out_ int *fds, int flags)',
  eventfd: 'int eventfd(unsigned int initval, int flags)',
  epoll_create1: 'int epoll_create1(int flags)',
  epoll_ctl: 'int epoll_ctl(int epfd, int op, int fd, void *event)',
  epoll_wait: 'int epoll_wait(int epfd, _Out_ void *events, int maxevents, int timeout)',
  recvmsg: 'long recvmsg(int fd, void *msg, int flags)',
  ioctl: 'int ioctl(int fd, unsigned long request, void *arg)',
  fcntl: 'int fcntl(int fd, int cmd, int arg)',
  posix_spawn: 'int posix_spawn(_Out_ int *pid, const char *path, void *actions, void *attr, const char **argv, const char **envp)',
  posix_spawn_file_actions_init: 'int posix_spawn_file_actions_init(void *actions)',
  posix_spawn_file_actions_destroy: 'int posix_spawn_file_actions_destroy(void *actions)',
  posix_spawn_file_actions_adddup2: 'int posix_spawn_file_actions_adddup2(void *actions, int fd, int newfd)',
  posix_spawn_file_actions_addopen: 'int posix_spawn_file_actions_addopen(void *actions, int fd, const char *path, int flags, unsigned int mode)',
  posix_spawn_file_actions_addchdir_np: 'int posix_spawn_file_actions_addchdir_np(void *actions, const char *path)',
  posix_spawnattr_init: 'int posix_spawnattr_init(void *attr)',
  posix_spawnattr_destroy: 'int posix_spawnattr_destroy(void *attr)',
  posix_spawnattr_setflags: 'int posix_spawnattr_setflags(void *attr, short flags)',
  posix_spawnattr_setsigdefault: 'int posix_spawnattr_setsigdefault(void *attr, void *sigset)',
  posix_spawnattr_setsigmask: 'int posix_spawnattr_setsigmask(void *attr, void *sigset)',
  sigemptyset: 'int sigemptyset(void *sigset)',
};

const libc = bindLibc<Record<keyof typeof DECLS, LibcFn>>(DECLS);

function load(): { koffi: Koffi; fns: Record<keyof typeof DECLS, LibcFn> } {
  return { koffi: loadKoffi(), fns: libc() };
}

export class SyscallError extends Error {
  constructor(
    readonly syscall: string,
    readonly errno: number,
  ) {
    super(`${syscall}: ${errnoName(errno) ?? `errno ${errno}`}`);
    this.name = 'SyscallError';
  }
}

function check(name: string, result: number): number {
  if (result < 0) throw new SyscallError(name, load().koffi.errno());
  return result;
}

/** prctl(PR_SET_CHILD_SUBREAPER): orphaned descendants (the containers runc leaves behind) become our children. */
export function becomeSubreaper(): void {
  check('prctl', load().fns.prctl!(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0));
}

/**
 * waitpid(pid, WNOHANG) for one pid: its raw wait status, or undefined while it runs. A pid that
 * is not (or no longer) our child gives ECHILD, returned as 'gone'.
 */
export function waitPid(pid: number): number | undefined | 'gone' {
  const { fns, koffi } = load();
  for (;;) {
    const status = [0];
    const r = fns.waitpid!(pid, status, WNOHANG);
    if (r === pid) return status[0]!;
    if (r === 0) return undefined;
    const errno = koffi.errno();
    if (errno === EINTR) continue;
    if (errno === ECHILD) return 'gone';
    throw new SyscallError('waitpid', errno);
  }
}

/**
 * Whether any child has exited and waits to be reaped: waitid(P_ALL, WNOHANG | WNOWAIT), which
 * reaps nothing. The zombie it names may be anyone's to collect, so it answers only "is there one".
 */
export function anyExitedChild(): boolean {
  const { fns, koffi } = load();
  for (;;) {
    const info = Buffer.alloc(SIGINFO_SIZE);
    if (fns.waitid!(P_ALL, 0, info, WEXITED | WNOHANG | WNOWAIT) === 0) return info.readInt32LE(SIGINFO_PID_OFFSET) !== 0;
    const errno = koffi.errno();
    if (errno === EINTR) continue;
    if (errno === ECHILD) return false;
    throw new SyscallError('waitid', errno);
  }
}

/**
 * waitpid(pid, 0) on a koffi worker thread: the raw wait status once `pid` has exited. For a
 * process without a reaper (the `delete` action): it holds a thread of the pool while it waits.
 */
export function waitPidBlocking(pid: number): Promise<number> {
  const { fns, koffi } = load();
  const status = [0];
  return new Promise((resolve, reject) => {
    fns.waitpid!.async(pid, status, 0, (err: unknown, r: number) => {
      if (err) return reject(err);
      if (r === pid) return resolve(status[0]!);
      const errno = koffi.errno();
      if (errno === EINTR) return resolve(waitPidBlocking(pid));
      reject(new SyscallError('waitpid', errno));
    });
  });
}

/** A child's fd 0, 1 or 2: one of our file descriptors, or /dev/null. */
export type SpawnFd = number | 'null';

/**
 * posix_spawn(3) of `path` with `argv` and `env`, in `cwd`, with `stdio` as its fds 0-2, every
 * signal at its default disposition and none blocked (as libuv starts its children). glibc
 * starts the child with clone(CLONE_VM | CLONE_VFORK): no copy of our page tables, which is
 * what makes Node's fork-based spawn cost ~1.2 ms of CPU (the event loop blocked) in a 60 MiB
 * shim. Returns the pid; the caller collects its exit (it is not libuv's child).
 */
export function posixSpawn(path: string, argv: readonly string[], env: readonly string[], cwd: string, stdio: readonly [SpawnFd, SpawnFd, SpawnFd]): number {
  const { fns } = load();
  const actions = Buffer.alloc(SPAWN_ACTIONS_SIZE);
  const attr = Buffer.alloc(SPAWN_ATTR_SIZE);
  const sigset = Buffer.alloc(SIGSET_SIZE);
  const spawnCheck = (name: string, error: number): void => {
    if (error !== 0) throw new SyscallError(name, error);
  };
  spawnCheck('posix_spawn_file_actions_init', fns.posix_spawn_file_actions_init!(actions));
  try {
    spawnCheck('posix_spawnattr_init', fns.posix_spawnattr_init!(attr));
    try {
      stdio.forEach((fd, target) => {
        if (fd === 'null') spawnCheck('posix_spawn_file_actions_addopen', fns.posix_spawn_file_actions_addopen!(actions, target, '/dev/null', target === 0 ? O_RDONLY : O_WRONLY, 0));
        else spawnCheck('posix_spawn_file_actions_adddup2', fns.posix_spawn_file_actions_adddup2!(actions, fd, target));
      });
      spawnCheck('posix_spawn_file_actions_addchdir_np', fns.posix_spawn_file_actions_addchdir_np!(actions, cwd));
      // every bit, not sigfillset: glibc leaves out its internal signals (32, 33) and would
      // start the child with them ignored, which the container's processes would inherit
      sigset.fill(0xff);
      spawnCheck('posix_spawnattr_setsigdefault', fns.posix_spawnattr_setsigdefault!(attr, sigset));
      fns.sigemptyset!(sigset);
      spawnCheck('posix_spawnattr_setsigmask', fns.posix_spawnattr_setsigmask!(attr, sigset));
      spawnCheck('posix_spawnattr_setflags', fns.posix_spawnattr_setflags!(attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK));
      const pid = [0];
      spawnCheck(`posix_spawn ${path}`, fns.posix_spawn!(pid, path, actions, attr, [...argv, null], [...env, null]));
      return pid[0]!;
    } finally {
      fns.posix_spawnattr_destroy!(attr);
    }
  } finally {
    fns.posix_spawn_file_actions_destroy!(actions);
  }
}

/** A raw wait status as a shell exit code: the exit status, or 128 + signal for a signal death. */
export function exitCode(status: number): number {
  const signal = status & 0x7f;
  return signal === 0 ? (status >> 8) & 0xff : 128 + signal;
}

/** pipe2(O_CLOEXEC): [read end, write end]. Real pipes, so /dev/stdout works in the container. */
export function pipe(): [number, number] {
  const fds = [0, 0];
  check('pipe2', load().fns.pipe2!(fds, O_CLOEXEC));
  return [fds[0]!, fds[1]!];
}

export function eventfd(): number {
  return check('eventfd', load().fns.eventfd!(0, EFD_CLOEXEC | O_NONBLOCK));
}

export function epollCreate(): number {
  return check('epoll_create1', load().fns.epoll_create1!(EPOLL_CLOEXEC));
}

/** struct epoll_event is packed on x86_64: u32 events, u64 data (12 bytes); 16 on other arches. */
const EPOLL_EVENT_SIZE = process.arch === 'x64' ? 12 : 16;
const EPOLL_DATA_OFFSET = process.arch === 'x64' ? 4 : 8;

export function epollAdd(epfd: number, fd: number): void {
  const event = Buffer.alloc(EPOLL_EVENT_SIZE);
  event.writeUInt32LE(EPOLLIN, 0);
  event.writeInt32LE(fd, EPOLL_DATA_OFFSET);
  check('epoll_ctl', load().fns.epoll_ctl!(epfd, EPOLL_CTL_ADD, fd, event));
}

export function epollDelete(epfd: number, fd: number): void {
  load().fns.epoll_ctl!(epfd, EPOLL_CTL_DEL, fd, Buffer.alloc(EPOLL_EVENT_SIZE));
}

/** epoll_wait on a koffi worker thread: resolves with the ready fds (empty on timeout). */
export function epollWaitAsync(epfd: number, timeoutMs: number): Promise<number[]> {
  const max = 16;
  const events = Buffer.alloc(EPOLL_EVENT_SIZE * max);
  const { fns, koffi } = load();
  return new Promise((resolve, reject) => {
    fns.epoll_wait!.async(epfd, events, max, timeoutMs, (err: unknown, n: number) => {
      if (err) return reject(err);
      if (n < 0) {
        const errno = koffi.errno();
        return errno === EINTR ? resolve([]) : reject(new SyscallError('epoll_wait', errno));
      }
      const fds: number[] = [];
      for (let i = 0; i < n; i++) fds.push(events.readInt32LE(i * EPOLL_EVENT_SIZE + EPOLL_DATA_OFFSET));
      resolve(fds);
    });
  });
}

/**
 * recvmsg(MSG_DONTWAIT) of one file descriptor passed with SCM_RIGHTS (runc's console socket
 * sends the pty master this way). Returns undefined while nothing has arrived yet.
 */
export function receiveFd(socketFd: number): number | undefined {
  const { fns, koffi } = load();
  const data = koffi.alloc('uint8', 4096);
  const control = koffi.alloc('uint8', 64);
  const iov = Buffer.alloc(16);
  iov.writeBigUInt64LE(koffi.address(data), 0);
  iov.writeBigUInt64LE(4096n, 8);
  const iovMem = koffi.alloc('uint8', 16);
  new Uint8Array(koffi.view(iovMem, 16)).set(iov);
  // struct msghdr: name, namelen(+pad), iov, iovlen, control, controllen, flags(+pad)
  const msg = Buffer.alloc(56);
  msg.writeBigUInt64LE(koffi.address(iovMem), 16);
  msg.writeBigUInt64LE(1n, 24);
  msg.writeBigUInt64LE(koffi.address(control), 32);
  msg.writeBigUInt64LE(64n, 40);
  try {
    const n = fns.recvmsg!(socketFd, msg, MSG_DONTWAIT);
    if (n < 0) {
      const errno = koffi.errno();
      if (errno === EAGAIN || errno === EINTR) return undefined;
      throw new SyscallError('recvmsg', errno);
    }
    const controlLen = Number(msg.readBigUInt64LE(40));
    const cmsg = Buffer.from(koffi.view(control, 64));
    // struct cmsghdr: u64 len, i32 level, i32 type, data
    if (controlLen < 20 || cmsg.readInt32LE(8) !== SOL_SOCKET || cmsg.readInt32LE(12) !== SCM_RIGHTS) {
      if (n === 0) throw new SyscallError('recvmsg (peer closed without a file descriptor)', 0);
      throw new SyscallError('recvmsg (no file descriptor in message)', 0);
    }
    return cmsg.readInt32LE(16);
  } finally {
    koffi.free(data);
    koffi.free(control);
    koffi.free(iovMem);
  }
}

/** ioctl(TIOCSWINSZ): the window size of a terminal (the pty master of a container process). */
export function setWindowSize(fd: number, width: number, height: number): void {
  const ws = Buffer.alloc(8);
  ws.writeUInt16LE(height, 0);
  ws.writeUInt16LE(width, 2);
  check('ioctl', load().fns.ioctl!(fd, TIOCSWINSZ, ws));
}

/** ioctl(FIONREAD): bytes waiting to be read in a pipe, FIFO or pty master (either end of a pipe). */
export function unreadBytes(fd: number): number {
  const count = Buffer.alloc(4);
  check('ioctl', load().fns.ioctl(fd, FIONREAD, count));
  return count.readInt32LE(0);
}

/** fcntl(F_DUPFD_CLOEXEC): a second descriptor of the same open file. */
export function duplicateFd(fd: number): number {
  return check('fcntl', load().fns.fcntl(fd, F_DUPFD_CLOEXEC, 0));
}

/** Sets O_NONBLOCK on a descriptor (its open file description: every copy of it). */
export function setNonBlocking(fd: number): void {
  const { fns } = load();
  const flags = check('fcntl', fns.fcntl(fd, F_GETFL, 0));
  check('fcntl', fns.fcntl(fd, F_SETFL, flags | O_NONBLOCK));
}
