export { PluginType, SkipPlugin, isSkipPlugin, checkRegistrations, uri, type Registration } from './registration.js';
export { decodePluginConfig, type InitContext, type LoadedPlugin, type PluginMeta, type Platform } from './context.js';
export { initOrder } from './graph.js';
export { PluginHost, type HostConfig, type HostLog } from './host.js';
export { loadConfig, applyOverrides, ignoredSettings, defaultConfig, ConfigError, DEFAULT_CONFIG_PATH, type DaemonConfig, type LoadOptions, type Overrides } from './config.js';
export { defaultConfigToml } from './default-config.js';
export { CONTAINERD_PLUGIN_SETTINGS, containerdHasSetting } from './containerd-settings.js';
