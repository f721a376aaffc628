import type { Socket } from 'node:net';
import { bindLibc, errnoError } from '../../../util/libc.js';

/** The process at the other end of a unix socket, as the kernel recorded it at connect (SO_PEERCRED). */
export interface PeerCredentials {
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
}

const SOL_SOCKET = 1;
const SO_PEERCRED = 17;
const UCRED_SIZE = 12; // struct ucred { pid_t pid; uid_t uid; gid_t gid; }

const libc = bindLibc<{ getsockopt(fd: number, level: number, name: number, value: Buffer, length: number[]): number }>({
  getsockopt: 'int getsockopt(int fd, int level, int optname, _Out_ uint8_t *optval, _Inout_ uint32_t *optlen)',
});

/**
 * getsockopt(SO_PEERCRED) on the socket's file descriptor, through koffi: node:net does not
 * expose peer credentials, but a connected unix socket's libuv handle carries its fd.
 */
export function peerCredentials(socket: Socket): PeerCredentials {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('peer credentials: the socket has no file descriptor');
  const value = Buffer.alloc(UCRED_SIZE);
  const length = [UCRED_SIZE];
  if (libc().getsockopt(fd, SOL_SOCKET, SO_PEERCRED, value, length) !== 0) throw errnoError('getsockopt(SO_PEERCRED)');
  return { pid: value.readInt32LE(0), uid: value.readUInt32LE(4), gid: value.readUInt32LE(8) };
}

/**
 * ttrpc's UnixSocketRequireSameUser: only a peer with this process's effective uid and gid may
 * talk to the server (a shim accepts only its daemon, the daemon only its shims).
 */
export function requireSameUser(): (peer: PeerCredentials) => string | undefined {
  const uid = process.geteuid?.() ?? -1;
  const gid = process.getegid?.() ?? -1;
  return (peer) => (peer.uid === uid && peer.gid === gid ? undefined : `peer uid ${peer.uid} gid ${peer.gid} is not uid ${uid} gid ${gid}`);
}
