import type { GcTrigger } from '../../commands/gc-trigger.js';
import { ImageCommands } from '../../commands/images.js';
import { LeaseCommands } from '../../commands/leases.js';
import { imagesProjection, leasesProjection } from '../../projections/index.js';
import { PluginType } from '../../plugin/index.js';
import { imagesService, IMAGES_SERVICE } from '../../services/images.js';
import { leasesService, LEASES_SERVICE } from '../../services/leases.js';
import { commandContext, grpc, projectionsOf, type AreaPlugins } from './shared.js';

/** Image records and leases: metadata only, on the log. `gc` serves their `sync` deletions. */
export const imagePlugins = (gc: GcTrigger): AreaPlugins => ({
  services: [
    {
      type: PluginType.Service,
      id: 'images-service',
      requires: [PluginType.Log, PluginType.Projection],
      init: (ctx) => new ImageCommands(commandContext(ctx), projectionsOf(ctx).add(imagesProjection), gc),
    },
    {
      type: PluginType.Service,
      id: 'leases-service',
      requires: [PluginType.Log, PluginType.Projection],
      init: (ctx) => new LeaseCommands(commandContext(ctx), projectionsOf(ctx).add(leasesProjection), gc),
    },
  ],
  grpc: [
    {
      type: PluginType.Grpc,
      id: 'images',
      requires: [PluginType.Service],
      init: (ctx) => grpc({ name: IMAGES_SERVICE, implementation: imagesService(ctx.getById<ImageCommands>(PluginType.Service, 'images-service')) }),
    },
    {
      type: PluginType.Grpc,
      id: 'leases',
      requires: [PluginType.Service],
      init: (ctx) => grpc({ name: LEASES_SERVICE, implementation: leasesService(ctx.getById<LeaseCommands>(PluginType.Service, 'leases-service')) }),
    },
  ],
});
