import type { ContentCommands } from '../../commands/content.js';
import type { GcRequests } from '../../commands/gc-trigger.js';
import type { LeaseCommands } from '../../commands/leases.js';
import type { SnapshotCommands } from '../../commands/snapshots.js';
import { DEFAULT_GC_CONFIG, GarbageCollector, type GcConfig } from '../../gc/collector.js';
import { gcInputs, gcReadModels } from '../../gc/inputs.js';
import { PluginType } from '../../plugin/index.js';
import { gcService, GC_SERVICE } from '../../services/gc.js';
import { commandContext, grpc, projectionsOf, type AreaPlugins, type DaemonHooks } from './shared.js';

/**
 * The garbage collector (containerd's io.containerd.gc.v1 scheduler) and ledgerd's GC service.
 * The collector serves `requests`, which the commands were given at construction.
 */
export const gcPlugins = (hooks: DaemonHooks, requests: GcRequests): AreaPlugins => ({
  services: [
    {
      type: PluginType.Gc,
      id: 'scheduler',
      requires: [PluginType.Service],
      config: { ...DEFAULT_GC_CONFIG } satisfies GcConfig,
      init(ctx) {
        const config = ctx.config as GcConfig;
        const leases = ctx.getById<LeaseCommands>(PluginType.Service, 'leases-service');
        const content = ctx.getById<ContentCommands>(PluginType.Service, 'content-service');
        const snapshots = ctx.getById<SnapshotCommands>(PluginType.Service, 'snapshots-service');
        const collector = new GarbageCollector(
          commandContext(ctx),
          config,
          // it marks from the read models; it deletes through the commands, the log's only writers
          gcInputs(gcReadModels(projectionsOf(ctx))),
          {
            lease: (ns, id, meta) => leases.delete(ns, id, false, meta),
            content: (ns, digest, meta) => content.delete(ns, digest, undefined, meta),
            ingest: (ns, ref, meta) => content.abort(ns, ref, undefined, meta),
            snapshot: (ns, snapshotter, key, meta) => snapshots.get(snapshotter).remove(ns, key, { meta, reason: 'gc' }),
            files: async () => {
              await snapshots.directoriesDeleted();
              return content.removeUnreferencedBlobs();
            },
          },
          hooks.warn,
        );
        requests.serve(collector);
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
  ],
  grpc: [
    {
      type: PluginType.Grpc,
      id: 'gc',
      requires: [PluginType.Gc],
      init: (ctx) => grpc({ name: GC_SERVICE, implementation: gcService(ctx.get<GarbageCollector>(PluginType.Gc)) }),
    },
  ],
});
