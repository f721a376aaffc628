// Unix socket addresses, and listening unix sockets made with socket(2), bind(2) and listen(2)
// and handed to node as a file descriptor. Node binds a path itself otherwise, and unlinks that
// path when the listener closes, whatever file is there by then: a closing server would delete
// the socket another server has meanwhile bound at the same path (a new shim for a reused task
// id). Here the path is ours to remove, and only while it is still the file we bound (SocketFile).
import { lstatSync, rmSync } from 'node:fs';
import { bindLibc, errnoError } from './libc.js';

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;
const SUN_PATH_MAX = 108;
/** node's default backlog. */
const BACKLOG = 511;

const libc = bindLibc<{
  socket(domain: number, type: number, protocol: number): number;
  bind(fd: number, address: Buffer, length: number): number;
  listen(fd: number, backlog: number): number;
  close(fd: number): number;
}>({
  socket: 'int socket(int domain, int type, int protocol)',
  bind: 'int bind(int fd, const uint8_t *address, uint32_t length)',
  listen: 'int listen(int fd, int backlog)',
  close: 'int close(int fd)',
});

/**
 * struct sockaddr_un for a path, or for an abstract address written with a leading "@" (as
 * systemd does), whose length then counts no trailing NUL.
 */
export function unixSockaddr(address: string): Buffer {
  const abstract = address.startsWith('@');
  const path = Buffer.from(abstract ? `\0${address.slice(1)}` : `${address}\0`);
  if (path.length > SUN_PATH_MAX) throw new Error(`unix socket address too long (${path.length} bytes, at most ${SUN_PATH_MAX}): ${address}`);
  const sockaddr = Buffer.alloc(2 + path.length);
  sockaddr.writeUInt16LE(AF_UNIX, 0);
  path.copy(sockaddr, 2);
  return sockaddr;
}

/** A listening socket bound at `path` (which must not exist): its descriptor, for `server.listen({ fd })`. */
export function listenUnix(path: string): number {
  const address = unixSockaddr(path);
  const { socket, bind, listen, close } = libc();
  const fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw errnoError('socket');
  if (bind(fd, address, address.length) !== 0 || listen(fd, BACKLOG) !== 0) {
    const err = errnoError('bind', path);
    close(fd);
    throw err;
  }
  return fd;
}

/** A socket file as it was when its server bound it (or took it over). */
export class SocketFile {
  private readonly dev: number;
  private readonly ino: number;

  constructor(readonly path: string) {
    const stat = lstatSync(path);
    this.dev = stat.dev;
    this.ino = stat.ino;
  }

  /** The file at `path` now, if there is one. */
  static find(path: string): SocketFile | undefined {
    try {
      return new SocketFile(path);
    } catch {
      return undefined;
    }
  }

  /**
   * Removes the file if it is still this one: once removed, another server may bind the same
   * path, and that file is not ours to remove.
   */
  remove(): void {
    try {
      const stat = lstatSync(this.path);
      if (stat.dev === this.dev && stat.ino === this.ino) rmSync(this.path, { force: true });
    } catch {
      // gone already
    }
  }
}
