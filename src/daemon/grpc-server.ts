import { chmodSync, chownSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { Server, ServerCredentials, type ServerInterceptor } from '@grpc/grpc-js';
import { serviceDefinition } from '../api/proto.js';
import type { GrpcService } from '../services/grpc-service.js';

export interface GrpcListenOptions {
  readonly address: string;
  readonly uid: number;
  readonly gid: number;
  readonly maxRecvMessageSize: number;
  readonly maxSendMessageSize: number;
  /** Run on every call of every service, in order (metrics, tracing). */
  readonly interceptors?: ServerInterceptor[];
}

/** Binds the services on the unix socket, mode 0660 owned by uid:gid as containerd does. */
export async function listenGrpc(services: readonly GrpcService[], options: GrpcListenOptions): Promise<Server> {
  const path = options.address.replace(/^unix:\/\//, '');
  mkdirSync(dirname(path), { recursive: true, mode: 0o711 });
  await removeStaleSocket(path);
  const server = new Server({
    'grpc.max_receive_message_length': options.maxRecvMessageSize,
    'grpc.max_send_message_length': options.maxSendMessageSize,
    interceptors: options.interceptors ?? [],
  });
  for (const service of services) server.addService(serviceDefinition(service.name), service.implementation);
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix:${path}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  chmodSync(path, 0o660);
  chownSync(path, options.uid, options.gid);
  return server;
}

export function stopGrpc(server: Server, graceMs = 2000): Promise<void> {
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
