import { ContainerCommands } from '../../commands/containers.js';
import { containersProjection } from '../../projections/index.js';
import { PluginType } from '../../plugin/index.js';
import { containersService, CONTAINERS_SERVICE } from '../../services/containers.js';
import { commandContext, grpc, projectionsOf, type AreaPlugins } from './shared.js';

/** Container records: metadata only, on the log. */
export const containerPlugins = (): AreaPlugins => ({
  services: [
    {
      type: PluginType.Service,
      id: 'containers-service',
      requires: [PluginType.Log, PluginType.Projection],
      init: (ctx) => new ContainerCommands(commandContext(ctx), projectionsOf(ctx).add(containersProjection)),
    },
  ],
  grpc: [
    {
      type: PluginType.Grpc,
      id: 'containers',
      requires: [PluginType.Service],
      init: (ctx) =>
        grpc({ name: CONTAINERS_SERVICE, implementation: containersService(ctx.getById<ContainerCommands>(PluginType.Service, 'containers-service')) }),
    },
  ],
});
