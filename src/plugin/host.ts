import { join } from 'node:path';
import type { InitContext, PluginMeta } from './context.js';
import type { DaemonConfig } from './config.js';
import { initOrder } from './graph.js';
import { SkipPlugin, uri, type Registration } from './registration.js';

/** One plugin the host tried to initialise, with its instance or the error it failed with. */
export interface LoadedPlugin {
  readonly registration: Registration<never, unknown>;
  readonly meta: PluginMeta;
  readonly instance?: unknown;
  readonly error?: Error;
  readonly skipped: boolean;
}

export interface Closable {
  close(): Promise<void> | void;
}

const isClosable = (value: unknown): value is Closable =>
  typeof value === 'object' && value !== null && typeof (value as Closable).close === 'function';

/**
 * Initialises plugins one at a time in graph order. A failing plugin is recorded and the daemon
 * goes on without it, unless it is one of `required_plugins`.
 */
export class PluginHost {
  private readonly loaded: LoadedPlugin[] = [];

  constructor(
    private readonly registrations: readonly Registration<never, unknown>[],
    private readonly config: DaemonConfig,
    private readonly log: (message: string) => void = () => {},
  ) {}

  async init(): Promise<void> {
    const required = new Set(this.config.required_plugins);
    for (const registration of initOrder(this.registrations, new Set(this.config.disabled_plugins))) {
      const id = uri(registration);
      const meta: PluginMeta = { platforms: [], exports: {}, capabilities: [] };
      try {
        const instance = await registration.init(this.context(registration, meta) as InitContext<never>);
        this.loaded.push({ registration, meta, instance, skipped: false });
      } catch (err) {
        const error = err instanceof Error ? err : new Error(String(err));
        const skipped = error instanceof SkipPlugin;
        this.loaded.push({ registration, meta, error, skipped });
        this.log(`${skipped ? 'skipped' : 'failed to load'} plugin ${id}: ${error.message}`);
        if (required.has(id)) throw new Error(`load required plugin ${id}: ${error.message}`);
      }
      required.delete(id);
    }
    if (required.size > 0) throw new Error(`required plugin [${[...required].join(' ')}] not included`);
  }

  /** Every plugin that was tried, in init order. */
  plugins(): readonly LoadedPlugin[] {
    return this.loaded;
  }

  /** Instances of successfully initialised plugins, of one type or all. */
  instances(type?: string): unknown[] {
    return this.loaded.filter((p) => p.instance !== undefined && (!type || p.registration.type === type)).map((p) => p.instance);
  }

  /** Closes instances in reverse init order; one failing close does not stop the others. */
  async close(): Promise<void> {
    for (const plugin of [...this.loaded].reverse()) {
      if (!isClosable(plugin.instance)) continue;
      try {
        await plugin.instance.close();
      } catch (err) {
        this.log(`closing plugin ${uri(plugin.registration)}: ${(err as Error).message}`);
      }
    }
  }

  private context(registration: Registration<never, unknown>, meta: PluginMeta): InitContext<unknown> {
    const id = uri(registration);
    const ofType = (type: string) => this.loaded.filter((p) => p.registration.type === type);
    return {
      root: join(this.config.root, id),
      state: join(this.config.state, id),
      daemonRoot: this.config.root,
      daemonState: this.config.state,
      address: this.config.grpc.address,
      config: mergeConfig(registration.config, this.config.plugins[id]),
      meta,
      get: <T>(type: string) => {
        const plugins = ofType(type);
        const ok = plugins.find((p) => p.instance !== undefined);
        if (ok) return ok.instance as T;
        throw plugins[0]?.error ?? new Error(`no plugins registered for ${type}: not found`);
      },
      getByType: <T>(type: string) =>
        new Map(ofType(type).filter((p) => p.instance !== undefined).map((p) => [p.registration.id, p.instance as T])),
      getById: <T>(type: string, pluginId: string) => {
        const plugin = ofType(type).find((p) => p.registration.id === pluginId);
        if (!plugin) throw new Error(`plugin ${type}.${pluginId}: not found`);
        if (plugin.error) throw plugin.error;
        return plugin.instance as T;
      },
    };
  }
}

/** A plugin's config: its defaults with the [plugins."<uri>"] table laid over them. */
export function mergeConfig(defaults: unknown, overrides: Record<string, unknown> | undefined): unknown {
  if (overrides === undefined) return structuredClone(defaults);
  if (!isPlainObject(defaults)) return overrides;
  const merged: Record<string, unknown> = structuredClone(defaults);
  for (const [key, value] of Object.entries(overrides)) {
    merged[key] = isPlainObject(merged[key]) && isPlainObject(value) ? mergeConfig(merged[key], value) : value;
  }
  return merged;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
