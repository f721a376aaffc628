import { ContentCommands } from '../../commands/content.js';
import { ContentStore } from '../../content/index.js';
import { contentProjection } from '../../projections/index.js';
import { PluginType } from '../../plugin/index.js';
import { contentService, CONTENT_SERVICE } from '../../services/content.js';
import { commandContext, grpc, leaseExists, projectionsOf, type AreaPlugins } from './shared.js';

export const contentPlugins = (): AreaPlugins => ({
  backends: [
    {
      // the blob store: <root>/io.containerd.content.v1.content/{blobs,ingest}
      type: PluginType.Content,
      id: 'content',
      init(ctx) {
        ctx.meta.exports.root = ctx.root;
        return ContentStore.open(ctx.root);
      },
    },
  ],
  services: [
    {
      type: PluginType.Service,
      id: 'content-service',
      requires: [PluginType.Content, PluginType.Log, PluginType.Projection],
      init: (ctx) =>
        new ContentCommands(commandContext(ctx), projectionsOf(ctx).add(contentProjection), ctx.get<ContentStore>(PluginType.Content), {
          leaseCheck: leaseExists(ctx),
        }),
    },
  ],
  grpc: [
    {
      type: PluginType.Grpc,
      id: 'content',
      requires: [PluginType.Service],
      init: (ctx) => grpc({ name: CONTENT_SERVICE, implementation: contentService(ctx.getById<ContentCommands>(PluginType.Service, 'content-service')) }),
    },
  ],
});
