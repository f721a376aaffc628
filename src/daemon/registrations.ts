import { join } from 'node:path';
import { EventLog } from '../log/index.js';
import { upcast } from '../events/index.js';
import { ProjectionSet, contentProjection, imagesProjection, leasesProjection, namespacesProjection, snapshotsProjection } from '../projections/index.js';
import { NamespaceCommands } from '../commands/namespaces.js';
import { ImageCommands } from '../commands/images.js';
import { LeaseCommands } from '../commands/leases.js';
import { ContentCommands } from '../commands/content.js';
import { ContentStore } from '../content/index.js';
import { SnapshotCommands } from '../commands/snapshots.js';
import { NativeBackend, OverlayBackend, type SnapshotBackend } from '../snapshots/index.js';
import { DEFAULT_GC_CONFIG, GarbageCollector, type GcConfig } from '../commands/gc.js';
import { gcInputs } from '../commands/gc-inputs.js';
import { PluginType, SkipPlugin, type LoadedPlugin, type Registration } from '../plugin/index.js';
import { eventsService, EVENTS_SERVICE, type SubscriberGauge } from '../services/events.js';
import { healthService, HEALTH_SERVICE } from '../services/health.js';
import { introspectionService, INTROSPECTION_SERVICE, type PluginInfo } from '../services/introspection.js';
import { logService, LOG_SERVICE } from '../services/log.js';
import { namespacesService, NAMESPACES_SERVICE } from '../services/namespaces.js';
import { versionService, VERSION_SERVICE } from '../services/version.js';
import { imagesService, IMAGES_SERVICE } from '../services/images.js';
import { leasesService, LEASES_SERVICE } from '../services/leases.js';
import { contentService, CONTENT_SERVICE } from '../services/content.js';
import { snapshotsService, SNAPSHOTS_SERVICE } from '../services/snapshots.js';
import { defaultPlatform } from '../util/platform.js';
import type { GrpcPlugin } from '../services/grpc-service.js';
import { gcService, GC_SERVICE } from '../services/gc.js';

/** What the registrations need from the daemon that owns them. */
export interface DaemonHooks {
  plugins(): readonly LoadedPlugin[];
  serving(): boolean;
  subscribers: SubscriberGauge;
  warn(message: string): void;
}

export interface LogConfig {
  /** Directory of the LMDB environment; "" means <root>/log. */
  dir: string;
}

export interface SnapshotterConfig {
  /** Directory of the snapshotter's storage; "" means the plugin's directory under the root. */
  root_path: string;
}

export interface ProjectionConfig {
  /** A projection writes its checkpoint after this many records. */
  checkpoint_interval: number;
}

type AnyRegistration = Registration<never, unknown>;
const grpc = (...services: GrpcPlugin['services']): GrpcPlugin => ({ services });

/** Every plugin of the daemon, in registration order (which is also `ctr plugins ls` order). */
export function registrations(hooks: DaemonHooks): AnyRegistration[] {
  const list: Registration<any, unknown>[] = [
    {
      // the blob store back end: <root>/io.containerd.content.v1.content/{blobs,ingest}
      type: PluginType.Content,
      id: 'content',
      init(ctx) {
        ctx.meta.exports.root = ctx.root;
        return ContentStore.open(ctx.root);
      },
    },
    {
      type: PluginType.Log,
      id: 'lmdb',
      config: { dir: '' } satisfies LogConfig,
      init(ctx) {
        const dir = (ctx.config as LogConfig).dir || join(ctx.daemonRoot, 'log');
        ctx.meta.exports.dir = dir;
        return EventLog.open({ dir, upcast });
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
    {
      type: PluginType.Snapshotter,
      id: 'native',
      config: { root_path: '' } satisfies SnapshotterConfig,
      init(ctx) {
        const root = (ctx.config as SnapshotterConfig).root_path || ctx.root;
        ctx.meta.platforms.push(defaultPlatform());
        ctx.meta.exports.root = root;
        return new NativeBackend(root);
      },
    },
    {
      type: PluginType.Snapshotter,
      id: 'overlayfs',
      config: { root_path: '' } satisfies SnapshotterConfig,
      async init(ctx) {
        const root = (ctx.config as SnapshotterConfig).root_path || ctx.root;
        ctx.meta.platforms.push(defaultPlatform());
        ctx.meta.exports.root = root;
        try {
          return await OverlayBackend.open(root);
        } catch (err) {
          throw new SkipPlugin(`overlayfs is not usable in ${root}: ${(err as Error).message}`);
        }
      },
    },
    {
      type: PluginType.Service,
      id: 'introspection-service',
      init: () => ({ plugins: () => hooks.plugins().map(pluginInfo) }),
    },
    {
      type: PluginType.Service,
      id: 'content-service',
      requires: [PluginType.Content, PluginType.Log, PluginType.Projection],
      init(ctx) {
        const log = ctx.get<EventLog>(PluginType.Log);
        const projections = ctx.get<ProjectionSet>(PluginType.Projection);
        return new ContentCommands({ log, projections }, projections.add(contentProjection), ctx.get<ContentStore>(PluginType.Content), {
          // a lease header is checked when the leases service is there to answer (else any id is accepted)
          leaseCheck(ns, id) {
            const leases = ctx.getByType<LeaseCommands>(PluginType.Service).get('leases-service');
            return leases ? leases.exists(ns, id) : true;
          },
        });
      },
    },
    {
      type: PluginType.Service,
      id: 'images-service',
      requires: [PluginType.Log, PluginType.Projection],
      init(ctx) {
        const log = ctx.get<EventLog>(PluginType.Log);
        const projections = ctx.get<ProjectionSet>(PluginType.Projection);
        return new ImageCommands({ log, projections }, projections.add(imagesProjection));
      },
    },
    {
      type: PluginType.Service,
      id: 'leases-service',
      requires: [PluginType.Log, PluginType.Projection],
      init(ctx) {
        const log = ctx.get<EventLog>(PluginType.Log);
        const projections = ctx.get<ProjectionSet>(PluginType.Projection);
        return new LeaseCommands({ log, projections }, projections.add(leasesProjection));
      },
    },
    {
      type: PluginType.Service,
      id: 'snapshots-service',
      requires: [PluginType.Log, PluginType.Projection, PluginType.Snapshotter],
      init(ctx) {
        const log = ctx.get<EventLog>(PluginType.Log);
        const projections = ctx.get<ProjectionSet>(PluginType.Projection);
        const backends = [...ctx.getByType<SnapshotBackend>(PluginType.Snapshotter).values()];
        return new SnapshotCommands({ log, projections }, projections.add(snapshotsProjection), backends, {
          // a lease header is checked when the leases service is there to answer
          leaseExists(ns, id) {
            const leases = ctx.getByType<LeaseCommands>(PluginType.Service).get('leases-service');
            return leases ? leases.exists(ns, id) : true;
          },
          warn: hooks.warn,
        });
      },
    },
    {
      type: PluginType.Service,
      id: 'namespaces-service',
      requires: [PluginType.Log, PluginType.Projection],
      init(ctx) {
        const log = ctx.get<EventLog>(PluginType.Log);
        const projections = ctx.get<ProjectionSet>(PluginType.Projection);
        const namespaces = new NamespaceCommands({ log, projections }, projections.add(namespacesProjection));
        namespaces.registerUsage((ns) => ctx.getById<ImageCommands>(PluginType.Service, 'images-service').usage(ns));
        namespaces.registerUsage((ns) => ctx.getById<ContentCommands>(PluginType.Service, 'content-service').usage(ns));
        namespaces.registerUsage((ns) => ctx.getById<SnapshotCommands>(PluginType.Service, 'snapshots-service').usage(ns));
        return namespaces;
      },
    },
    {
      type: PluginType.Gc,
      id: 'scheduler',
      requires: [PluginType.Service],
      config: { ...DEFAULT_GC_CONFIG } satisfies GcConfig,
      init(ctx) {
        const config = ctx.config as GcConfig;
        const log = ctx.get<EventLog>(PluginType.Log);
        const projections = ctx.get<ProjectionSet>(PluginType.Projection);
        const images = ctx.getById<ImageCommands>(PluginType.Service, 'images-service');
        const leases = ctx.getById<LeaseCommands>(PluginType.Service, 'leases-service');
        const inputs = gcInputs({ leases: () => leases.state, images: () => images.state });
        const collector = new GarbageCollector({ log, projections }, config, () => inputs, {
          lease: (ns, id, meta) => leases.delete(ns, id, false, meta),
        }, hooks.warn);
        images.gc = collector;
        leases.gc = collector;
        Object.assign(ctx.meta.exports, {
          PauseThreshold: String(config.pause_threshold),
          DeletionThreshold: String(config.deletion_threshold),
          MutationThreshold: String(config.mutation_threshold),
          ScheduleDelay: config.schedule_delay,
          StartupDelay: config.startup_delay,
          CollectInterval: config.collect_interval,
        });
        return collector;
      },
    },
    {
      type: PluginType.Grpc,
      id: 'content',
      requires: [PluginType.Service],
      init: (ctx) => grpc({ name: CONTENT_SERVICE, implementation: contentService(ctx.getById<ContentCommands>(PluginType.Service, 'content-service')) }),
    },
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
      id: 'images',
      requires: [PluginType.Service],
      init: (ctx) => grpc({ name: IMAGES_SERVICE, implementation: imagesService(ctx.getById<ImageCommands>(PluginType.Service, 'images-service')) }),
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
      id: 'leases',
      requires: [PluginType.Service],
      init: (ctx) => grpc({ name: LEASES_SERVICE, implementation: leasesService(ctx.getById<LeaseCommands>(PluginType.Service, 'leases-service')) }),
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
      id: 'snapshots',
      requires: [PluginType.Service],
      init: (ctx) =>
        grpc({ name: SNAPSHOTS_SERVICE, implementation: snapshotsService(ctx.getById<SnapshotCommands>(PluginType.Service, 'snapshots-service')) }),
    },
    {
      type: PluginType.Grpc,
      id: 'version',
      init: () => grpc({ name: VERSION_SERVICE, implementation: versionService() }),
    },
    {
      type: PluginType.Grpc,
      id: 'gc',
      requires: [PluginType.Gc],
      init: (ctx) => grpc({ name: GC_SERVICE, implementation: gcService(ctx.get<GarbageCollector>(PluginType.Gc)) }),
    },
    {
      type: PluginType.Grpc,
      id: 'log',
      requires: [PluginType.Log],
      init: (ctx) => grpc({ name: LOG_SERVICE, implementation: logService(ctx.get<EventLog>(PluginType.Log), hooks.subscribers) }),
    },
  ];
  return list as AnyRegistration[];
}

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
