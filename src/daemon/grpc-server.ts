import { chmodSync, chownSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { connect, createServer, type Server as NetServer, type Socket } from 'node:net';
import type { Http2Server, ServerHttp2Session } from 'node:http2';
import { dirname } from 'node:path';
import { Server, ServerCredentials, type ServerInterceptor } from '@grpc/grpc-js';
import { serviceDefinition } from '../api/proto.js';
import type { GrpcService } from '../services/grpc-service.js';
import { tolerantDefinition } from '../services/handlers.js';
import { peerAddress } from '../services/request.js';
import { fixUnixAuthority } from './unix-authority.js';
import { peerCredentials } from '../shims/wire/ttrpc/peer-credentials.js';

export interface GrpcListenOptions {
  readonly address: string;
  readonly uid: number;
  readonly gid: number;
  readonly maxRecvMessageSize: number;
  readonly maxSendMessageSize: number;
  /** Run on every call of every service, in order (metrics, tracing). */
  readonly interceptors?: ServerInterceptor[];
}

/** The unix socket each gRPC server accepts on: ours, so each connection's peer can be asked who it is. */
const listeners = new WeakMap<Server, NetServer>();

/**
 * Binds the services on the unix socket, mode 0660 owned by uid:gid as containerd does.
 *
 * grpc-js does not show a handler its socket, so the daemon listens itself: each accepted
 * connection's SO_PEERCRED (uid, gid, pid of the process that connected) becomes the socket's
 * remoteAddress, which grpc-js reports as the call's peer (see requestMeta), and the connection
 * is handed to the gRPC server through its connection injector.
 */
export async function listenGrpc(services: readonly GrpcService[], options: GrpcListenOptions): Promise<Server> {
  const path = options.address.replace(/^unix:\/\//, '');
  mkdirSync(dirname(path), { recursive: true, mode: 0o711 });
  await removeStaleSocket(path);
  const server = new Server({
    'grpc.max_receive_message_length': options.maxRecvMessageSize,
    'grpc.max_send_message_length': options.maxSendMessageSize,
    interceptors: options.interceptors ?? [],
  });
  for (const service of services) server.addService(tolerantDefinition(serviceDefinition(service.name)), service.implementation);
  const injector = server.createConnectionInjector(ServerCredentials.createInsecure());
  carryPeerAddress(server);
  const listener = createServer((socket) => injector.injectConnection(fixUnixAuthority(withPeerAddress(socket))));
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(path, () => {
      listener.off('error', reject);
      resolve();
    });
  });
  listeners.set(server, listener);
  chmodSync(path, 0o660);
  chownSync(path, options.uid, options.gid);
  return server;
}

/** The peer's credentials as the socket's address; a socket whose peer cannot be asked keeps none. */
function withPeerAddress(socket: Socket): Socket {
  try {
    Object.defineProperty(socket, 'remoteAddress', { value: peerAddress(peerCredentials(socket)), configurable: true });
  } catch {
    // the connection already closed: grpc-js sees it fail on its own
  }
  return socket;
}

/**
 * fixUnixAuthority hands http2 a JS stream, which node wraps in a socket of its own whose
 * remoteAddress is empty, so grpc-js would report every peer as 'unknown'. Each new session's
 * socket takes the wrapped stream's address as its peer name. grpc-js keeps its http2 servers in a
 * private map; should that change, peers go unrecorded (the peer-actor test fails) but calls work.
 */
function carryPeerAddress(server: Server): void {
  const http2Servers = (server as unknown as { http2Servers?: Map<Http2Server, unknown> }).http2Servers;
  for (const http2 of http2Servers?.keys() ?? []) {
    http2.prependListener('session', (session: ServerHttp2Session) => {
      const socket = session.socket as unknown as { remoteAddress?: string; stream?: { remoteAddress?: string }; _peername?: object };
      const address = socket.stream?.remoteAddress;
      if (!socket.remoteAddress && address) socket._peername = { address };
    });
  }
}

export function stopGrpc(server: Server, graceMs = 2000): Promise<void> {
  listeners.get(server)?.close();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** A socket file left by a daemon that died is removed; one that answers means a daemon runs. */
async function removeStaleSocket(path: string): Promise<void> {
  if (!existsSync(path)) return;
  const alive = await new Promise<boolean>((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
  if (alive) throw new Error(`${path} is in use by a running daemon`);
  rmSync(path, { force: true });
}
