import type { Implementation } from './handlers.js';

/** What a gRPC plugin (io.containerd.grpc.v1.*) hands to the server: services to register. */
export interface GrpcService {
  /** Full proto service name, e.g. "containerd.services.namespaces.v1.Namespaces". */
  readonly name: string;
  readonly implementation: Implementation;
}

export interface GrpcPlugin {
  readonly services: readonly GrpcService[];
}

export function isGrpcPlugin(instance: unknown): instance is GrpcPlugin {
  return typeof instance === 'object' && instance !== null && Array.isArray((instance as GrpcPlugin).services);
}
