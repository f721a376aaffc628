import type { InitContext } from './context.js';
import { invalidArgument } from '../util/errdefs.js';

/** Plugin types: containerd's reverse-DNS names (plugin/plugin.go), plus ledgerd's own. */
export const PluginType = {
  Internal: 'io.containerd.internal.v1',
  RuntimeV1: 'io.containerd.runtime.v1',
  RuntimeV2: 'io.containerd.runtime.v2',
  Service: 'io.containerd.service.v1',
  Grpc: 'io.containerd.grpc.v1',
  Ttrpc: 'io.containerd.ttrpc.v1',
  Snapshotter: 'io.containerd.snapshotter.v1',
  TaskMonitor: 'io.containerd.monitor.v1',
  Differ: 'io.containerd.differ.v1',
  Metadata: 'io.containerd.metadata.v1',
  Content: 'io.containerd.content.v1',
  Gc: 'io.containerd.gc.v1',
  Event: 'io.containerd.event.v1',
  TracingProcessor: 'io.containerd.tracing.processor.v1',
  Log: 'io.ledgerd.log.v1',
  Projection: 'io.ledgerd.projection.v1',
  Export: 'io.ledgerd.export.v1',
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
  /** Default config; the [plugins."<uri>"] table is merged over it. None: the plugin takes no config. */
  readonly config?: C;
  init(ctx: InitContext<C>): Promise<I> | I;
}

export const uri = (r: { readonly type: string; readonly id: string }) => `${r.type}.${r.id}`;

/**
 * Thrown by init when a plugin does not apply here (no btrfs, no overlayfs...). The message ends
 * in containerd's ": skip plugin", which is how `ctr plugins ls` tells skipped from failed.
 */
export class SkipPlugin extends Error {
  constructor(reason?: string, options?: ErrorOptions) {
    super(reason ? `${reason}: skip plugin` : 'skip plugin', options);
    this.name = 'SkipPlugin';
  }
}

/** containerd's errors.Is(err, ErrSkipPlugin): a SkipPlugin, itself or as a cause. */
export function isSkipPlugin(err: unknown): boolean {
  for (let e = err; e instanceof Error; e = e.cause) {
    if (e instanceof SkipPlugin) return true;
  }
  return false;
}

/** The checks containerd's plugin.Register panics on: type and id set, URI unique, '*' alone. */
export function checkRegistrations(registrations: readonly Pick<Registration, 'type' | 'id' | 'requires'>[]): void {
  const seen = new Set<string>();
  for (const r of registrations) {
    if (!r.type) throw invalidArgument(`plugin registration with id "${r.id}": no type`);
    if (!r.id) throw invalidArgument(`plugin registration of type ${r.type}: no id`);
    const name = uri(r);
    if (seen.has(name)) throw invalidArgument(`plugin ${name}: id already registered`);
    seen.add(name);
    const requires = r.requires ?? [];
    if (requires.includes('*') && requires.length !== 1) {
      throw invalidArgument(`plugin ${name}: invalid requires: "*" must be the only entry`);
    }
  }
}
