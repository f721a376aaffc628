import { SnapshotCommands } from '../../commands/snapshots.js';
import { snapshotsProjection } from '../../projections/index.js';
import { NativeBackend, OverlayBackend, type SnapshotBackend } from '../../snapshots/index.js';
import { PluginType, SkipPlugin } from '../../plugin/index.js';
import { snapshotsService, SNAPSHOTS_SERVICE } from '../../services/snapshots.js';
import { defaultPlatform } from '../../util/platform.js';
import { commandContext, grpc, leaseExists, projectionsOf, type AreaPlugins, type DaemonHooks, type SnapshotterConfig } from './shared.js';

export const snapshotPlugins = (hooks: DaemonHooks): AreaPlugins => ({
  backends: [
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
  ],
  services: [
    {
      type: PluginType.Service,
      id: 'snapshots-service',
      requires: [PluginType.Log, PluginType.Projection, PluginType.Snapshotter],
      init(ctx) {
        const backends = [...ctx.getByType<SnapshotBackend>(PluginType.Snapshotter).values()];
        return new SnapshotCommands(commandContext(ctx), projectionsOf(ctx).add(snapshotsProjection), backends, {
          leaseExists: leaseExists(ctx),
          warn: hooks.warn,
        });
      },
    },
  ],
  grpc: [
    {
      type: PluginType.Grpc,
      id: 'snapshots',
      requires: [PluginType.Service],
      init: (ctx) =>
        grpc({ name: SNAPSHOTS_SERVICE, implementation: snapshotsService(ctx.getById<SnapshotCommands>(PluginType.Service, 'snapshots-service')) }),
    },
  ],
});
