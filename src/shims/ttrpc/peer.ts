// SO_PEERCRED of a connected unix socket, through koffi (Node does not expose it). ttrpc servers
// accept only peers with their own uid and gid (ttrpc.UnixSocketRequireSameUser).
import type { Socket } from 'node:net';
import koffi from 'koffi';

export interface PeerCredentials {
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
}

const SOL_SOCKET = 1;
const SO_PEERCRED = 17;

let getsockopt: ((fd: number, level: number, name: number, value: Buffer, length: Buffer) => number) | undefined;

export function peerCredentials(socket: Socket): PeerCredentials | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (fd === undefined || fd < 0) return undefined;
  getsockopt ??= koffi.load('libc.so.6').func('int getsockopt(int fd, int level, int name, _Inout_ uint8_t *value, _Inout_ uint32_t *length)') as unknown as typeof getsockopt;
  const value = Buffer.alloc(12);
  const length = Buffer.alloc(4);
  length.writeUInt32LE(12);
  if (getsockopt!(fd, SOL_SOCKET, SO_PEERCRED, value, length) !== 0) return undefined;
  return { pid: value.readInt32LE(0), uid: value.readUInt32LE(4), gid: value.readUInt32LE(8) };
}

/** The check ttrpc servers use: same uid and gid as this process. */
export function sameUser(peer: PeerCredentials | undefined): boolean {
  return peer !== undefined && peer.uid === process.getuid?.() && peer.gid === process.getgid?.();
}
