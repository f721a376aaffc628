import { containerPlugins } from './plugins/containers.js';
import { criPlugins } from './plugins/cri.js';
import { contentPlugins } from './plugins/content.js';
import { corePlugins } from './plugins/core.js';
import { diffPlugins } from './plugins/diff.js';
import { exportPlugins } from './plugins/export.js';
import { gcPlugins } from './plugins/gc.js';
import { imagePlugins } from './plugins/images.js';
import { runtimePlugins } from './plugins/runtime.js';
import { snapshotPlugins } from './plugins/snapshots.js';
import { taskPlugins } from './plugins/tasks.js';
import { tracingPlugins } from './plugins/tracing.js';
import type { AnyRegistration, DaemonHooks } from './plugins/shared.js';
import { GcRequests } from '../commands/gc-trigger.js';

export type { DaemonHooks } from './plugins/shared.js';

/** Every plugin of the daemon, in registration order (which is also `ctr plugins ls` order). */
export function registrations(hooks: DaemonHooks): AnyRegistration[] {
  const gcRequests = new GcRequests();
  const areas = [
    corePlugins(hooks),
    contentPlugins(),
    snapshotPlugins(hooks),
    diffPlugins(),
    imagePlugins(gcRequests),
    containerPlugins(),
    runtimePlugins(hooks),
    taskPlugins(hooks),
    gcPlugins(hooks, gcRequests),
    criPlugins(),
    tracingPlugins(hooks),
    exportPlugins(hooks),
  ];
  const byId = (a: AnyRegistration, b: AnyRegistration) => a.id.localeCompare(b.id);
  return [
    ...areas.flatMap((area) => area.backends ?? []),
    ...areas.flatMap((area) => area.services ?? []),
    ...areas.flatMap((area) => area.grpc ?? []).sort(byId),
  ];
}
