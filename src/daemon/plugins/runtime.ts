import { PluginType, type Platform } from '../../plugin/index.js';
import { ShimRuntime } from '../../shims/manager.js';
import { defaultPlatform } from '../../util/platform.js';
import type { AreaPlugins, DaemonHooks } from './shared.js';

/** containerd's runtime/v2 Config. */
export interface RuntimeConfig {
  platforms: string[];
  sched_core: boolean;
}

const formatPlatform = (p: Platform) => [p.os, p.architecture, p.variant].filter(Boolean).join('/');

function parsePlatform(text: string): Platform {
  const [os = '', architecture = '', variant] = text.split('/');
  if (!os || !architecture) throw new Error(`platforms: ${JSON.stringify(text)} is not <os>/<arch>[/<variant>]`);
  return variant ? { os, architecture, variant } : { os, architecture };
}

/**
 * The shim v2 runtime (io.containerd.runtime.v2.task): bundles under its state directory, work
 * directories under its root, and the ttrpc events server for shims at `<grpc address>.ttrpc`,
 * which listens from start-up and whose socket is removed when the daemon stops (close()).
 */
export const runtimePlugins = (hooks: DaemonHooks): AreaPlugins => ({
  backends: [
    {
      type: PluginType.RuntimeV2,
      id: 'task',
      config: { platforms: [formatPlatform(defaultPlatform())], sched_core: false } satisfies RuntimeConfig,
      init(ctx) {
        const config = ctx.config as RuntimeConfig;
        ctx.meta.platforms.push(...config.platforms.map(parsePlatform));
        return ShimRuntime.open({ root: ctx.root, state: ctx.state, address: ctx.address, schedCore: config.sched_core, warn: hooks.warn });
      },
    },
  ],
});
