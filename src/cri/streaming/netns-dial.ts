// A TCP connection to a port on localhost inside a pod's network namespace, for port forwarding.
// A socket belongs to the network namespace of the thread that created it, whatever thread uses
// it later; so the daemon's thread enters the pod's namespace (setns) only for the socket(2)
// call and comes straight back, as containerd's netns.Do does around its dial, and Node then
// connects and relays the socket like any other. No helper process, no relay per connection.
import { closeSync, openSync } from 'node:fs';
import { Socket } from 'node:net';
import { bindLibc, errnoError } from '../../util/libc.js';

const CLONE_NEWNET = 0x40000000;
const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_STREAM = 1;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;

const libc = bindLibc<{ setns(fd: number, type: number): number; socket(domain: number, type: number, protocol: number): number }>({
  setns: 'int setns(int fd, int nstype)',
  socket: 'int socket(int domain, int type, int protocol)',
});

/** A TCP socket (not yet connected) created in the network namespace at `netnsPath`. */
function socketIn(netnsPath: string, family: number): Socket {
  const target = openSync(netnsPath, 'r');
  const home = openSync('/proc/thread-self/ns/net', 'r');
  let fd = -1;
  try {
    if (libc().setns(target, CLONE_NEWNET) !== 0) throw errnoError('setns', netnsPath);
    fd = libc().socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const socketError = fd < 0 ? errnoError('socket') : undefined;
    // with our own namespace's fd and the rights we just used, this cannot fail short of ENOMEM;
    // if it did, this thread would go on in the pod's namespace, so nothing may continue
    if (libc().setns(home, CLONE_NEWNET) !== 0) {
      process.stderr.write(`ledgerd: cannot return to the daemon's network namespace after entering ${netnsPath}: ${errnoError('setns').message}\n`);
      process.abort();
    }
    if (socketError) throw socketError;
  } finally {
    closeSync(target);
    closeSync(home);
  }
  return new Socket({ fd });
}

function connected(socket: Socket, port: number, host: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.connect({ port, host }, () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}

/**
 * Connects to `localhost:port` in the namespace (127.0.0.1, then ::1 when that is refused), or
 * in the daemon's own namespace when `netnsPath` is empty (a pod on the host's network).
 */
export async function dialLocalhost(netnsPath: string, port: number): Promise<Socket> {
  const attempt = (family: number, host: string) => connected(netnsPath ? socketIn(netnsPath, family) : new Socket(), port, host);
  try {
    return await attempt(AF_INET, '127.0.0.1');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ECONNREFUSED') throw err;
    return await attempt(AF_INET6, '::1').catch(() => Promise.reject(err));
  }
}
