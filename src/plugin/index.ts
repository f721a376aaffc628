export { PluginType, SkipPlugin, uri, type Registration } from './registration.js';
export type { InitContext, PluginMeta, Platform } from './context.js';
export { initOrder } from './graph.js';
export { PluginHost, mergeConfig, type LoadedPlugin } from './host.js';
export { loadConfig, applyOverrides, defaultConfig, ConfigError, DEFAULT_CONFIG_PATH, type DaemonConfig, type Overrides } from './config.js';
export { defaultConfigToml } from './default-config.js';
