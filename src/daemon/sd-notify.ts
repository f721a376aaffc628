// systemd's readiness protocol (sd_notify): "READY=1" and friends as one datagram to the unix
// socket named by $NOTIFY_SOCKET. Node has no unix datagram sockets, so socket() and sendto()
// come from libc through koffi (util/libc); the npm wrappers for this compile a C addon at install.
import { bindLibc, errnoError } from '../util/libc.js';
import { unixSockaddr } from '../util/unix-socket.js';

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const MSG_NOSIGNAL = 0x4000;

const libc = bindLibc<{
  socket(domain: number, type: number, protocol: number): number;
  sendto(fd: number, buf: Buffer, len: number, flags: number, addr: Buffer, addrlen: number): number;
  close(fd: number): number;
}>({
  socket: 'int socket(int domain, int type, int protocol)',
  sendto: 'intptr_t sendto(int fd, const uint8_t *buf, size_t len, int flags, const uint8_t *addr, uint32_t addrlen)',
  close: 'int close(int fd)',
});

/** Opens an AF_UNIX datagram socket (close-on-exec); the caller closes it. */
export function datagramSocket(): number {
  const fd = libc().socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw errnoError('socket(AF_UNIX, SOCK_DGRAM)');
  return fd;
}

export const closeFd = (fd: number): void => void libc().close(fd);

/** Sends one notification ("READY=1", "STOPPING=1", "STATUS=...") to `address`. */
export function sendNotification(address: string, state: string): void {
  if (!address.startsWith('/') && !address.startsWith('@')) throw new Error(`NOTIFY_SOCKET ${JSON.stringify(address)}: only unix socket paths and @abstract addresses are supported`);
  const sockaddr = unixSockaddr(address);
  const fd = datagramSocket();
  try {
    const message = Buffer.from(state);
    if (libc().sendto(fd, message, message.length, MSG_NOSIGNAL, sockaddr, sockaddr.length) < 0) throw errnoError('sendto', address);
  } finally {
    closeFd(fd);
  }
}

/**
 * The service manager's notify socket, if the daemon runs under one. It is taken out of the
 * environment so that shims and runc, which inherit it, cannot speak for the daemon.
 */
export class ServiceManager {
  private constructor(private readonly address: string | undefined) {}

  static fromEnvironment(env: NodeJS.ProcessEnv = process.env): ServiceManager {
    const address = env.NOTIFY_SOCKET || undefined;
    delete env.NOTIFY_SOCKET;
    return new ServiceManager(address);
  }

  /** The daemon serves: systemd's unit becomes active (Type=notify). */
  ready(): void {
    if (this.address) sendNotification(this.address, 'READY=1');
  }

  /** The daemon is shutting down. */
  stopping(): void {
    if (this.address) sendNotification(this.address, 'STOPPING=1');
  }
}
