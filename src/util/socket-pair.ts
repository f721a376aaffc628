// A connected pair of unix stream sockets inside this process (socketpair(2)), for handing a
// library a real socket whose bytes the daemon produces: node:net has no socketpair.
import { Socket } from 'node:net';
import { bindLibc, errnoError } from './libc.js';

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;

const libc = bindLibc<{ socketpair(domain: number, type: number, protocol: number, fds: Int32Array): number }>({
  socketpair: 'int socketpair(int domain, int type, int protocol, _Out_ int *sv)',
});

/** Two connected sockets: what is written to one is read from the other. */
export function socketPair(): [Socket, Socket] {
  const fds = new Int32Array(2);
  if (libc().socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) !== 0) throw errnoError('socketpair');
  return [new Socket({ fd: fds[0]!, readable: true, writable: true }), new Socket({ fd: fds[1]!, readable: true, writable: true })];
}
