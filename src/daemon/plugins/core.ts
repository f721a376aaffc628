import { join } from 'node:path';
import { EventLog, type RetentionPolicy } from '../../log/index.js';
import { parseDuration } from '../../util/duration.js';
import { upcast } from '../../events/index.js';
import { closeOnExecAbove2 } from '../../util/close-on-exec.js';
import { ProjectionSet } from '../../projections/index.js';
import { NamespaceCommands, namespaceReadModels } from '../../commands/namespaces.js';
import { PluginType, type LoadedPlugin } from '../../plugin/index.js';
import { eventsService, EVENTS_SERVICE } from '../../services/events.js';
import { healthService, HEALTH_SERVICE } from '../../services/health.js';
import { introspectionService, INTROSPECTION_SERVICE, type PluginInfo } from '../../services/introspection.js';
import { logService, LOG_SERVICE } from '../../services/log.js';
import { namespacesService, NAMESPACES_SERVICE } from '../../services/namespaces.js';
import { versionService, VERSION_SERVICE } from '../../services/version.js';
import { commandContext, grpc, projectionsOf, type AreaPlugins, type DaemonHooks } from './shared.js';

export interface LogConfig {
  /** Directory of the LMDB environment; "" means <root>/log. */
  dir: string;
  /** Checkpoints kept per projection per doubling of their age (time travel folds from them). */
  checkpoint_history: number;
  /** History older than this (a Go duration, "720h") moves to the archive; "" keeps all in LMDB. */
  retention_age: string;
  /** Past this many bytes of records in LMDB the oldest move to the archive; 0: no limit. */
  retention_bytes: number;
}

export interface ProjectionConfig {
  /** A projection writes its checkpoint after this many records. */
  checkpoint_interval: number;
}

function retentionPolicy(config: LogConfig): RetentionPolicy | undefined {
  const ageMs = parseDuration(config.retention_age ?? '');
  const bytes = Number(config.retention_bytes ?? 0);
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new Error(`retention_bytes ${config.retention_bytes}: must be a whole number of bytes`);
  return ageMs > 0 || bytes > 0 ? { ageMs, bytes } : undefined;
}

/** The log, its projections, namespaces, and the services about the daemon itself. */
export const corePlugins = (hooks: DaemonHooks): AreaPlugins => ({
  backends: [
    {
      type: PluginType.Log,
      id: 'lmdb',
      config: { dir: '', checkpoint_history: 4, retention_age: '', retention_bytes: 0 } satisfies LogConfig,
      init(ctx) {
        const config = ctx.config as LogConfig;
        const dir = config.dir || join(ctx.daemonRoot, 'log');
        ctx.meta.exports.dir = dir;
        const retention = retentionPolicy(config);
        if (retention) ctx.meta.exports.retention = [config.retention_age && `age ${config.retention_age}`, config.retention_bytes > 0 && `${config.retention_bytes} bytes`].filter(Boolean).join(', ');
        const log = EventLog.open({ dir, upcast, checkpointHistory: config.checkpoint_history, retention });
        // LMDB's data file is opened without O_CLOEXEC: shims and runc must not inherit it
        closeOnExecAbove2();
        return log;
      },
    },
    {
      type: PluginType.Projection,
      id: 'projections',
      requires: [PluginType.Log],
      config: { checkpoint_interval: 10_000 } satisfies ProjectionConfig,
      init(ctx) {
        const interval = (ctx.config as ProjectionConfig).checkpoint_interval;
        ctx.meta.exports.checkpoint_interval = String(interval);
        return new ProjectionSet(ctx.get<EventLog>(PluginType.Log), { checkpointEvery: interval });
      },
    },
  ],
  services: [
    {
      type: PluginType.Service,
      id: 'introspection-service',
      init: () => ({ plugins: () => hooks.plugins().map(pluginInfo) }),
    },
    {
      type: PluginType.Service,
      id: 'namespaces-service',
      requires: [PluginType.Log, PluginType.Projection],
      init: (ctx) => new NamespaceCommands(commandContext(ctx), namespaceReadModels(projectionsOf(ctx))),
    },
  ],
  grpc: [
    {
      type: PluginType.Grpc,
      id: 'events',
      requires: [PluginType.Log],
      init: (ctx) => grpc({ name: EVENTS_SERVICE, implementation: eventsService(ctx.get<EventLog>(PluginType.Log), hooks.subscribers) }),
    },
    {
      type: PluginType.Grpc,
      id: 'healthcheck',
      init: () => grpc({ name: HEALTH_SERVICE, implementation: healthService(hooks.serving) }),
    },
    {
      type: PluginType.Grpc,
      id: 'introspection',
      requires: [PluginType.Service],
      init: (ctx) => {
        const service = ctx.getById<{ plugins: () => PluginInfo[] }>(PluginType.Service, 'introspection-service');
        return grpc({ name: INTROSPECTION_SERVICE, implementation: introspectionService(service.plugins, ctx.daemonRoot) });
      },
    },
    {
      type: PluginType.Grpc,
      id: 'namespaces',
      requires: [PluginType.Service],
      init: (ctx) =>
        grpc({ name: NAMESPACES_SERVICE, implementation: namespacesService(ctx.getById<NamespaceCommands>(PluginType.Service, 'namespaces-service')) }),
    },
    {
      type: PluginType.Grpc,
      id: 'version',
      init: () => grpc({ name: VERSION_SERVICE, implementation: versionService() }),
    },
    {
      type: PluginType.Grpc,
      id: 'log',
      requires: [PluginType.Log],
      init: (ctx) => grpc({ name: LOG_SERVICE, implementation: logService(ctx.get<EventLog>(PluginType.Log), hooks.subscribers) }),
    },
  ],
});

function pluginInfo(plugin: LoadedPlugin): PluginInfo {
  return {
    type: plugin.registration.type,
    id: plugin.registration.id,
    requires: plugin.registration.requires ?? [],
    platforms: plugin.meta.platforms,
    exports: plugin.meta.exports,
    capabilities: plugin.meta.capabilities,
    initError: plugin.error,
  };
}
