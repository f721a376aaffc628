export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
}

/** What a plugin publishes about itself (introspection shows it). */
export interface PluginMeta {
  platforms: Platform[];
  exports: Record<string, string>;
  capabilities: string[];
}

/** What init gets: its directories, its config, the daemon's address, and earlier plugins. */
export interface InitContext<C = unknown> {
  /** <root>/<uri>: the plugin's persistent directory (not created for it). */
  readonly root: string;
  /** <state>/<uri>: the plugin's volatile directory (not created for it). */
  readonly state: string;
  readonly daemonRoot: string;
  readonly daemonState: string;
  readonly address: string;
  readonly config: C;
  readonly meta: PluginMeta;
  /** The first initialised instance of a type; throws (with its init error) if there is none. */
  get<T = unknown>(type: string): T;
  getByType<T = unknown>(type: string): Map<string, T>;
  getById<T = unknown>(type: string, id: string): T;
}
