// A unix datagram socket the test owns, as systemd's NOTIFY_SOCKET: bound with libc through
// koffi (Node has no unix datagram sockets), read on koffi's worker thread.
import type { TestContext } from 'node:test';
import { bindLibc, errnoError } from '../../src/util/libc.js';
import { closeFd, datagramSocket } from '../../src/daemon/sd-notify.js';
import { unixSockaddr } from '../../src/util/unix-socket.js';

const SOL_SOCKET = 1;
const SO_RCVTIMEO = 20;
const SHUT_RDWR = 2;

const libc = bindLibc<{
  bind(fd: number, addr: Buffer, addrlen: number): number;
  shutdown(fd: number, how: number): number;
  setsockopt(fd: number, level: number, name: number, value: Buffer, length: number): number;
  recv: ((fd: number, buf: Buffer, len: number, flags: number) => number) & {
    async(fd: number, buf: Buffer, len: number, flags: number, done: (err: unknown, n: number) => void): void;
  };
}>({
  bind: 'int bind(int fd, const uint8_t *addr, uint32_t addrlen)',
  shutdown: 'int shutdown(int fd, int how)',
  setsockopt: 'int setsockopt(int fd, int level, int optname, const uint8_t *optval, uint32_t optlen)',
  recv: 'intptr_t recv(int fd, _Out_ uint8_t *buf, size_t len, int flags)',
});

export interface NotifySocket {
  readonly address: string;
  /** The next datagram as text; rejects when none comes within the socket's timeout. */
  receive(): Promise<string>;
}

/** Binds `address` (a path, or "@name" for an abstract one); closed when the test ends. */
export function bindNotifySocket(t: TestContext, address: string, timeoutSeconds = 60): NotifySocket {
  const fd = datagramSocket();
  // shutdown wakes a receive still waiting on koffi's worker thread
  t.after(() => (libc().shutdown(fd, SHUT_RDWR), closeFd(fd)));
  const sockaddr = unixSockaddr(address);
  if (libc().bind(fd, sockaddr, sockaddr.length) !== 0) throw errnoError('bind', address);
  const timeval = Buffer.alloc(16);
  timeval.writeBigInt64LE(BigInt(timeoutSeconds), 0);
  if (libc().setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, timeval, timeval.length) !== 0) throw errnoError('setsockopt(SO_RCVTIMEO)');
  return {
    address,
    receive: () =>
      new Promise((resolve, reject) => {
        const buf = Buffer.alloc(4096);
        libc().recv.async(fd, buf, buf.length, 0, (err, n) => {
          if (err) reject(err);
          else if (n < 0) reject(new Error(`no datagram on ${address} within ${timeoutSeconds} s`));
          else resolve(buf.subarray(0, n).toString());
        });
      }),
  };
}
