import type { ContentCommands } from '../../commands/content.js';
import { DiffCommands } from '../../commands/diff.js';
import { PluginType } from '../../plugin/index.js';
import { diffService, DIFF_SERVICE } from '../../services/diff.js';
import { defaultPlatform } from '../../util/platform.js';
import { grpc, type AreaPlugins } from './shared.js';

/** containerd's walking differ (apply + compare), its service and gRPC service. */
export const diffPlugins = (): AreaPlugins => ({
  backends: [
    {
      type: PluginType.Differ,
      id: 'walking',
      requires: [PluginType.Content],
      init(ctx) {
        ctx.meta.platforms.push(defaultPlatform());
        return new DiffCommands(ctx.get<ContentCommands>(PluginType.Content));
      },
    },
  ],
  services: [
    {
      type: PluginType.Service,
      id: 'diff-service',
      requires: [PluginType.Differ],
      init: (ctx) => ctx.get<DiffCommands>(PluginType.Differ),
    },
  ],
  grpc: [
    {
      type: PluginType.Grpc,
      id: 'diff',
      requires: [PluginType.Service],
      init: (ctx) => grpc({ name: DIFF_SERVICE, implementation: diffService(ctx.getById<DiffCommands>(PluginType.Service, 'diff-service')) }),
    },
  ],
});
