import type { ContainerCommands } from '../../commands/containers.js';
import { TaskCommands } from '../../commands/tasks.js';
import { tasksProjection } from '../../projections/index.js';
import { PluginType } from '../../plugin/index.js';
import type { TaskRuntime } from '../../shims/runtime.js';
import { tasksService, TASKS_SERVICE } from '../../services/tasks.js';
import { commandContext, grpc, projectionsOf, type AreaPlugins, type DaemonHooks } from './shared.js';

/** The Tasks service over the shim runtime (io.containerd.runtime.v2 task, in the runtime area). */
export const taskPlugins = (hooks: DaemonHooks): AreaPlugins => ({
  services: [
    {
      type: PluginType.Service,
      id: 'tasks-service',
      requires: [PluginType.RuntimeV2, PluginType.Log, PluginType.Projection],
      init: (ctx) =>
        new TaskCommands(
          commandContext(ctx),
          projectionsOf(ctx).add(tasksProjection),
          () => ctx.getById<ContainerCommands>(PluginType.Service, 'containers-service'),
          ctx.get<TaskRuntime>(PluginType.RuntimeV2),
          hooks.warn,
        ),
    },
  ],
  grpc: [
    {
      type: PluginType.Grpc,
      id: 'tasks',
      requires: [PluginType.Service],
      init: (ctx) => grpc({ name: TASKS_SERVICE, implementation: tasksService(ctx.getById<TaskCommands>(PluginType.Service, 'tasks-service')) }),
    },
  ],
});
