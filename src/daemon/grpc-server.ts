import { chmodSync, chownSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { connect, createServer, type Server as NetServer, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { Server, ServerCredentials, type ServerInterceptor } from '@grpc/grpc-js';
import { serviceDefinition } from '../api/proto.js';
import type { GrpcService } from '../services/grpc-service.js';
import { tolerantDefinition } from '../services/handlers.js';
import { peerAddress } from '../services/request.js';
import { routeConnection } from './unix-authority.js';
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

/** The unix socket each gRPC server accepts on (ours, so each connection's peer can be asked who it is), and the connections not yet handed to it. */
const listeners = new WeakMap<Server, { listener: NetServer; undecided: Set<Socket> }>();

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
  const undecided = new Set<Socket>();
  const listener = createServer((socket) => {
    const address = peerAddressOf(socket);
    undecided.add(socket);
    socket.once('close', () => undecided.delete(socket));
    routeConnection(socket, (http2Socket) => {
      undecided.delete(socket);
      injector.injectConnection(withRemoteAddress(http2Socket, address));
    });
  });
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(path, () => {
      listener.off('error', reject);
      resolve();
    });
  });
  listeners.set(server, { listener, undecided });
  chmodSync(path, 0o660);
  chownSync(path, options.uid, options.gid);
  return server;
}

/** The peer's credentials as an address; none for a peer that cannot be asked (it already hung up). */
function peerAddressOf(socket: Socket): string | undefined {
  try {
    return peerAddress(peerCredentials(socket));
  } catch {
    return undefined; // grpc-js sees the connection fail on its own
  }
}

/** The socket http2 gets (the client's own, or the daemon's end of a rewriting pipe) names the peer. */
function withRemoteAddress(socket: Socket, address: string | undefined): Socket {
  if (address) Object.defineProperty(socket, 'remoteAddress', { value: address, configurable: true });
  return socket;
}

export function stopGrpc(server: Server, graceMs = 2000): Promise<void> {
  const listening = listeners.get(server);
  listening?.listener.close();
  for (const socket of listening?.undecided ?? []) socket.destroy();
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
