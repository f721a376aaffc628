import { failedPrecondition, invalidArgument } from '../util/errdefs.js';
import { containerdHasSetting, CONTAINERD_PLUGIN_SETTINGS } from './containerd-settings.js';
import type { DaemonConfig } from './config.js';
import { createInitContext, decodePluginConfig, type LoadedPlugin, type PluginMeta } from './context.js';
import { initOrder } from './graph.js';
import { isSkipPlugin, uri, type Registration } from './registration.js';

export type { LoadedPlugin } from './context.js';

export type HostLog = (message: string, level: 'info' | 'warn') => void;

export type HostConfig = Pick<DaemonConfig, 'root' | 'state' | 'grpc' | 'disabled_plugins' | 'required_plugins' | 'plugins'>;

interface Closable {
  close(): Promise<void> | void;
}

const isClosable = (value: unknown): value is Closable =>
  typeof value === 'object' && value !== null && typeof (value as Closable).close === 'function';

/**
 * Initialises plugins one at a time in graph order (services/server/server.go New). A plugin that
 * fails is recorded and the daemon goes on without it, unless it is one of `required_plugins`.
 */
export class PluginHost {
  private readonly loaded: LoadedPlugin[] = [];
  /** containerd settings in the config that no plugin acts on (filled by init). */
  readonly ignored: string[] = [];
  private started = false;
  private closing?: Promise<void>;

  constructor(
    private readonly registrations: readonly Registration[],
    private readonly config: HostConfig,
    private readonly log: HostLog = () => {},
  ) {}

  async init(): Promise<void> {
    if (this.started) throw failedPrecondition('plugins are already initialised');
    this.started = true;
    const order = initOrder(this.registrations, new Set(this.config.disabled_plugins));
    const configs = this.decodeConfigs(order);
    const required = new Set(this.config.required_plugins);
    for (const registration of order) {
      const name = uri(registration);
      const meta: PluginMeta = { platforms: [], exports: {}, capabilities: [] };
      const options = { root: this.config.root, state: this.config.state, address: this.config.grpc.address, config: configs.get(registration) };
      try {
        const instance = await registration.init(createInitContext(registration, options, meta, this.loaded));
        this.loaded.push({ registration, meta, instance, skipped: false });
      } catch (err) {
        const error = err instanceof Error ? err : new Error(String(err));
        const skipped = isSkipPlugin(error);
        this.loaded.push({ registration, meta, error, skipped });
        this.log(`${skipped ? 'skip loading' : 'failed to load'} plugin ${name}: ${error.message}`, skipped ? 'info' : 'warn');
        if (required.has(name)) throw new Error(`load required plugin ${name}: ${error.message}`, { cause: error });
        continue;
      }
      required.delete(name);
    }
    if (required.size > 0) {
      throw new Error(`required plugin [${[...required].join(' ')}] not included (not registered, or disabled)`);
    }
  }

  /** Every plugin that was tried (loaded, skipped or failed), in init order. */
  plugins(): readonly LoadedPlugin[] {
    return this.loaded;
  }

  /** Instances of the plugins that initialised, of one type or all, in init order. */
  instances<T = unknown>(type?: string): T[] {
    return this.loaded
      .filter((p) => !p.error && p.instance !== undefined && (type === undefined || p.registration.type === type))
      .map((p) => p.instance as T);
  }

  /** Closes instances in reverse init order; one failing close does not stop the others. */
  close(): Promise<void> {
    return (this.closing ??= (async () => {
      for (const plugin of [...this.loaded].reverse()) {
        if (plugin.error || !isClosable(plugin.instance)) continue;
        try {
          await plugin.instance.close();
        } catch (err) {
          this.log(`closing plugin ${uri(plugin.registration)}: ${err instanceof Error ? err.message : String(err)}`, 'warn');
        }
      }
    })());
  }

  /**
   * Every plugin's config, decoded before any plugin starts so that a mistyped value or a typo'd
   * key stops start-up cleanly. A containerd 1.6 setting that no ledgerd plugin acts on (a key,
   * or a whole section of a plugin ledgerd does not have) is type-checked against containerd's
   * default and kept in `ignored`, for the daemon's one start-up warning.
   */
  private decodeConfigs(order: readonly Registration[]): Map<Registration, unknown> {
    const sections = this.config.plugins;
    const configs = new Map<Registration, unknown>();
    const typos: string[] = [];
    const checkContainerd = (name: string, section: Record<string, unknown>) => {
      const containerd = CONTAINERD_PLUGIN_SETTINGS[name];
      if (containerd) decodePluginConfig(name, containerd, section); // its type errors
    };
    for (const registration of order) {
      const name = uri(registration);
      const section = sections[name];
      const { config, unknownKeys } = decodePluginConfig(name, registration.config ?? {}, section);
      configs.set(registration, registration.config === undefined ? undefined : config);
      if (!section) continue;
      checkContainerd(name, section);
      for (const key of registration.config === undefined ? Object.keys(section) : unknownKeys) {
        (containerdHasSetting(name, key) ? this.ignored : typos).push(`plugins."${name}".${key}`);
      }
    }
    const registered = new Set(this.registrations.map(uri));
    for (const [name, section] of Object.entries(sections)) {
      if (registered.has(name)) continue;
      if (!CONTAINERD_PLUGIN_SETTINGS[name]) {
        typos.push(`plugins."${name}" (no such plugin)`);
        continue;
      }
      checkContainerd(name, section);
      const { unknownKeys } = decodePluginConfig(name, CONTAINERD_PLUGIN_SETTINGS[name], section);
      typos.push(...unknownKeys.map((key) => `plugins."${name}".${key}`));
      this.ignored.push(`plugins."${name}"`);
    }
    if (typos.length > 0) {
      throw invalidArgument(`unknown ${typos.length === 1 ? 'setting' : 'settings'} ${typos.join(', ')}: neither ledgerd nor containerd 1.6 has ${typos.length === 1 ? 'it' : 'them'}`);
    }
    for (const name of this.config.disabled_plugins) {
      if (!registered.has(name)) this.log(`disabled_plugins: no such plugin ${name}`, 'warn');
    }
    return configs;
  }
}
