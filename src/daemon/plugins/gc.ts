import type { ImageCommands } from '../../commands/images.js';
import type { LeaseCommands } from '../../commands/leases.js';
import { DEFAULT_GC_CONFIG, GarbageCollector, type GcConfig } from '../../commands/gc.js';
import { gcInputs } from '../../commands/gc-inputs.js';
import { PluginType } from '../../plugin/index.js';
import { gcService, GC_SERVICE } from '../../services/gc.js';
import { commandContext, grpc, type AreaPlugins, type DaemonHooks } from './shared.js';

/** The garbage collector (containerd's io.containerd.gc.v1 scheduler) and ledgerd's GC service. */
export const gcPlugins = (hooks: DaemonHooks): AreaPlugins => ({
  services: [
    {
      type: PluginType.Gc,
      id: 'scheduler',
      requires: [PluginType.Service],
      config: { ...DEFAULT_GC_CONFIG } satisfies GcConfig,
      init(ctx) {
        const config = ctx.config as GcConfig;
        const images = ctx.getById<ImageCommands>(PluginType.Service, 'images-service');
        const leases = ctx.getById<LeaseCommands>(PluginType.Service, 'leases-service');
        const inputs = gcInputs({ leases: () => leases.state, images: () => images.state });
        const collector = new GarbageCollector(
          commandContext(ctx),
          config,
          () => inputs,
          { lease: (ns, id, meta) => leases.delete(ns, id, false, meta) },
          hooks.warn,
        );
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
