import { TaskCommands } from '../../commands/tasks.js';
import { containersProjection, tasksProjection } from '../../projections/index.js';
import { PluginType } from '../../plugin/index.js';
import { tasksService, TASKS_SERVICE } from '../../services/tasks.js';
import type { TaskRuntime } from '../../shims/runtime/task-runtime.js';
import { commandContext, grpc, projectionsOf, type AreaPlugins, type DaemonHooks } from './shared.js';

/** containerd's tasks service config (services/tasks/local.go); RDT is not supported, the key is accepted. */
export interface TasksServiceConfig {
  rdt_config_file: string;
}

/** Tasks: containerd's Tasks service over the shim v2 runtime (plugin io.containerd.runtime.v2.task). */
export const taskPlugins = (hooks: DaemonHooks): AreaPlugins => ({
  services: [
    {
      type: PluginType.Service,
      id: 'tasks-service',
      requires: [PluginType.Log, PluginType.Projection, PluginType.RuntimeV2],
      config: { rdt_config_file: '' } satisfies TasksServiceConfig,
      init(ctx) {
        const runtime = ctx.getById<TaskRuntime>(PluginType.RuntimeV2, 'task');
        const projections = projectionsOf(ctx);
        return new TaskCommands(commandContext(ctx), projections.add(tasksProjection), projections.add(containersProjection), runtime, { warn: hooks.warn });
      },
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
