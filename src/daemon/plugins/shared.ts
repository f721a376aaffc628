import type { EventLog } from '../../log/index.js';
import { leaseOf, leasesProjection, type ProjectionSet } from '../../projections/index.js';
import type { CommandContext } from '../../commands/context.js';
import { PluginType, type DaemonConfig, type InitContext, type LoadedPlugin, type Registration } from '../../plugin/index.js';
import type { GrpcPlugin } from '../../services/grpc-service.js';
import type { SubscriberGauge } from '../../services/events.js';
import type { CallObserver } from '../../shims/wire/ttrpc/index.js';

/** What the registrations need from the daemon that owns them. */
export interface DaemonHooks {
  /** The daemon's whole config (top-level settings such as [timeouts] and debug.level). */
  readonly config?: DaemonConfig;
  plugins(): readonly LoadedPlugin[];
  serving(): boolean;
  /** Counts open event subscriptions (metrics); absent when metrics are off. */
  readonly subscribers?: SubscriberGauge;
  /** Watches the daemon's ttrpc calls to shims (metrics). */
  readonly observeShimCall?: CallObserver;
  warn(message: string): void;
}

export type AnyRegistration = Registration<any, unknown>;

/**
 * One area's plugins by role. The daemon registers every area's back ends, then services, then
 * gRPC services, which is the order `ctr plugins ls` shows (as containerd's registration order).
 */
export interface AreaPlugins {
  backends?: AnyRegistration[];
  services?: AnyRegistration[];
  grpc?: AnyRegistration[];
}

export const grpc = (...services: GrpcPlugin['services']): GrpcPlugin => ({ services });

/** The log and projections a command module appends to and reads from. */
export function commandContext(ctx: InitContext): CommandContext {
  return { log: ctx.get<EventLog>(PluginType.Log), projections: ctx.get<ProjectionSet>(PluginType.Projection) };
}

export const projectionsOf = (ctx: InitContext) => ctx.get<ProjectionSet>(PluginType.Projection);

/** Checks a `containerd-lease` header against the leases read model. */
export function leaseExists(ctx: InitContext): (namespace: string, id: string) => boolean {
  const leases = projectionsOf(ctx).add(leasesProjection);
  return (namespace, id) => leaseOf(leases.state, namespace, id) !== undefined;
}

export interface SnapshotterConfig {
  /** Directory of the snapshotter's storage; "" means the plugin's directory under the root. */
  root_path: string;
}
