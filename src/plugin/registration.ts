import type { InitContext } from './context.js';

/** Plugin types (containerd's reverse-DNS names, plus ledgerd's own). */
export const PluginType = {
  Internal: 'io.containerd.internal.v1',
  RuntimeV2: 'io.containerd.runtime.v2',
  Service: 'io.containerd.service.v1',
  Grpc: 'io.containerd.grpc.v1',
  Snapshotter: 'io.containerd.snapshotter.v1',
  Differ: 'io.containerd.differ.v1',
  Content: 'io.containerd.content.v1',
  Metadata: 'io.containerd.metadata.v1',
  Event: 'io.containerd.event.v1',
  Gc: 'io.containerd.gc.v1',
  Log: 'io.ledgerd.log.v1',
  Projection: 'io.ledgerd.projection.v1',
} as const;

/**
 * A plugin: what it is (type, id), which plugin types must be initialised before it, its
 * default config, and how to make its instance.
 */
export interface Registration<C = unknown, I = unknown> {
  readonly type: string;
  readonly id: string;
  /** Types (not ids) this plugin needs; ['*'] means every other plugin. */
  readonly requires?: readonly string[];
  readonly config?: C;
  init(ctx: InitContext<C>): Promise<I> | I;
}

export const uri = (r: { type: string; id: string }) => `${r.type}.${r.id}`;

/** Thrown by init when a plugin does not apply here; shown as `skip` by `ctr plugins ls`. */
export class SkipPlugin extends Error {
  constructor(reason: string) {
    super(`${reason}: skip plugin`);
    this.name = 'SkipPlugin';
  }
}
