import { ContentCommands } from '../../commands/content.js';
import { ContentStore } from '../../content/index.js';
import { contentProjection } from '../../projections/index.js';
import { PluginType } from '../../plugin/index.js';
import { contentService, CONTENT_SERVICE } from '../../services/content.js';
import { commandContext, grpc, leaseExists, projectionsOf, type AreaPlugins } from './shared.js';

export const contentPlugins = (): AreaPlugins => ({
  backends: [
    {
      // the blob store, <root>/io.containerd.content.v1.content/{blobs,ingest}, behind the commands
      // that record in the log what happens to it (containerd's metadata content store): the
      // differ and the content service are given these at construction
      type: PluginType.Content,
      id: 'content',
      requires: [PluginType.Log, PluginType.Projection],
      async init(ctx) {
        ctx.meta.exports.root = ctx.root;
        const store = await ContentStore.open(ctx.root);
        return new ContentCommands(commandContext(ctx), projectionsOf(ctx).add(contentProjection), store, { leaseCheck: leaseExists(ctx) });
      },
    },
  ],
  services: [
    {
      type: PluginType.Service,
      id: 'content-service',
      requires: [PluginType.Content],
      init: (ctx) => ctx.get<ContentCommands>(PluginType.Content),
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
