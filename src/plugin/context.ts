import { join } from 'node:path';
import { invalidArgument, notFound } from '../util/errdefs.js';
import { uri, type Registration } from './registration.js';

export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
}

/** What a plugin publishes about itself at init (introspection shows it). */
export interface PluginMeta {
  platforms: Platform[];
  exports: Record<string, string>;
  capabilities: string[];
}

/** One plugin the host tried to initialise, with its instance or the error it failed with. */
export interface LoadedPlugin {
  readonly registration: Registration;
  readonly meta: PluginMeta;
  readonly instance?: unknown;
  readonly error?: Error;
  /** The error is a SkipPlugin: the plugin does not apply here (`skip` in `ctr plugins ls`). */
  readonly skipped: boolean;
}

/** What init gets: its directories, its config, the daemon's address, and earlier plugins. */
export interface InitContext<C = unknown> {
  /** <root>/<uri>: the plugin's persistent directory (not created for it). */
  readonly root: string;
  /** <state>/<uri>: the plugin's volatile directory (not created for it). */
  readonly state: string;
  readonly daemonRoot: string;
  readonly daemonState: string;
  /** The daemon's gRPC address. */
  readonly address: string;
  /** The registration's defaults with the [plugins."<uri>"] table merged over them. */
  readonly config: C;
  /** Filled in by init: platforms, exports, capabilities. */
  readonly meta: PluginMeta;
  /**
   * The first successfully initialised plugin of a type (containerd picks an arbitrary one).
   * Throws the init error if every plugin of the type failed, not found if none was tried.
   */
  get<T = unknown>(type: string): T;
  /** Successfully initialised plugins of a type, by id (empty if none). */
  getByType<T = unknown>(type: string): Map<string, T>;
  /** One plugin; throws its init error if it failed, not found if it was not tried (yet). */
  getById<T = unknown>(type: string, id: string): T;
}

export interface ContextOptions {
  readonly root: string;
  readonly state: string;
  readonly address: string;
  readonly config: unknown;
}

/** The context for one registration, reading the plugins tried so far from `loaded`. */
export function createInitContext(
  registration: Registration,
  options: ContextOptions,
  meta: PluginMeta,
  loaded: readonly LoadedPlugin[],
): InitContext {
  const name = uri(registration);
  const ofType = (type: string) => loaded.filter((p) => p.registration.type === type);
  return {
    root: join(options.root, name),
    state: join(options.state, name),
    daemonRoot: options.root,
    daemonState: options.state,
    address: options.address,
    config: options.config,
    meta,
    get: <T>(type: string) => {
      const plugins = ofType(type);
      const ok = plugins.find((p) => !p.error);
      if (ok) return ok.instance as T;
      throw plugins[0]?.error ?? notFound(`no plugins registered for ${type}`);
    },
    getByType: <T>(type: string) => new Map(ofType(type).filter((p) => !p.error).map((p) => [p.registration.id, p.instance as T])),
    getById: <T>(type: string, id: string) => {
      const plugin = ofType(type).find((p) => p.registration.id === id);
      if (!plugin) throw notFound(`no ${type} plugins with id ${id}`);
      if (plugin.error) throw plugin.error;
      return plugin.instance as T;
    },
  };
}

export interface DecodedConfig {
  readonly config: unknown;
  /** Keys of the table that the plugin does not have; they are ignored. */
  readonly unknownKeys: string[];
}

/**
 * A plugin's config: a copy of its defaults with the [plugins."<uri>"] table merged over them,
 * key by key and depth first. A value whose type differs from the default's is an error (as
 * containerd's TOML decode into the plugin's struct); keys the defaults do not have are reported
 * and dropped, except inside tables whose default is empty (free-form maps).
 */
export function decodePluginConfig(pluginUri: string, defaults: unknown, table: Record<string, unknown> | undefined): DecodedConfig {
  const unknownKeys: string[] = [];
  if (defaults === undefined) return { config: undefined, unknownKeys: table ? Object.keys(table) : [] };
  if (table === undefined) return { config: structuredClone(defaults), unknownKeys };
  const merge = (base: Record<string, unknown>, over: Record<string, unknown>, path: string): Record<string, unknown> => {
    const merged = structuredClone(base);
    const freeForm = Object.keys(base).length === 0;
    for (const [key, value] of Object.entries(over)) {
      const keyPath = path ? `${path}.${key}` : key;
      if (freeForm) {
        merged[key] = structuredClone(value);
        continue;
      }
      if (!Object.hasOwn(base, key)) {
        unknownKeys.push(keyPath);
        continue;
      }
      const expected = kindOf(base[key]);
      if (expected !== kindOf(value) && base[key] !== undefined) {
        throw invalidArgument(`plugins."${pluginUri}".${keyPath}: expected ${expected}, got ${kindOf(value)} ${JSON.stringify(value)}`);
      }
      merged[key] = expected === 'a table' ? merge(base[key] as Record<string, unknown>, value as Record<string, unknown>, keyPath) : structuredClone(value);
    }
    return merged;
  };
  if (kindOf(defaults) !== 'a table') throw invalidArgument(`plugin ${pluginUri}: its default config must be a table`);
  return { config: merge(defaults as Record<string, unknown>, table, ''), unknownKeys };
}

function kindOf(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Date) return 'a date';
  if (typeof value === 'object' && value !== null) return 'a table';
  return `a ${typeof value}`;
}
