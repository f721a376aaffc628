import { parseDuration } from '../../util/duration.js';
import { PluginType, type DaemonConfig, type Platform } from '../../plugin/index.js';
import { ShimRuntime } from '../../shims/runtime/shim-runtime.js';
import { LEGACY_LINUX_RUNTIME, type LegacyLinuxSettings } from '../../shims/runtime/legacy-linux.js';
import type { ShimTimeouts } from '../../shims/runtime/shim-task.js';
import { defaultPlatform } from '../../util/platform.js';
import type { AreaPlugins, DaemonHooks } from './shared.js';

/** containerd's runtime/v2 Config. */
export interface RuntimeConfig {
  platforms: string[];
  sched_core: boolean;
  /**
   * ledgerd: runtime name -> shim binary over DEFAULT_SHIM_BINARIES, e.g.
   * { "io.containerd.runc.v2" = "containerd-shim-runc-v2" } runs runc containers with containerd's
   * shim. Names in neither resolve as containerd does.
   */
  shim_binaries: Record<string, string>;
  /** ledgerd: idle shim processes kept booted for its own shim (0: start each shim with `start`). */
  warm_shims: number;
  /**
   * ledgerd: containers of one namespace a warm shim serves at most (1: a shim per container, as
   * containerd). Grouped containers and containers with a shim cgroup get a shim of their own.
   */
  tasks_per_shim: number;
}

/** containerd's runtime/v1/linux Config: ledgerd acts on runtime, runtime_root and shim_debug. */
export interface LegacyLinuxConfig {
  shim: string;
  runtime: string;
  runtime_root: string;
  no_shim: boolean;
  shim_debug: boolean;
}

/** runc containers run on ledgerd's own shim unless shim_binaries says otherwise. */
export const DEFAULT_SHIM_BINARIES: Readonly<Record<string, string>> = { 'io.containerd.runc.v2': 'containerd-shim-ledger-v1' };

const formatPlatform = (p: Platform) => [p.os, p.architecture, p.variant].filter(Boolean).join('/');

function parsePlatform(text: string): Platform {
  const [os = '', architecture = '', variant] = text.split('/');
  if (!os || !architecture) throw new Error(`platforms: ${JSON.stringify(text)} is not <os>/<arch>[/<variant>]`);
  return variant ? { os, architecture, variant } : { os, architecture };
}

/** containerd's [timeouts] keys for shims, as milliseconds; keys not set keep containerd's defaults. */
function shimTimeouts(config: DaemonConfig | undefined): Partial<ShimTimeouts> {
  const keys: Record<keyof ShimTimeouts, string> = {
    load: 'io.containerd.timeout.shim.load',
    cleanup: 'io.containerd.timeout.shim.cleanup',
    shutdown: 'io.containerd.timeout.shim.shutdown',
    state: 'io.containerd.timeout.task.state',
  };
  const timeouts: Partial<Record<keyof ShimTimeouts, number>> = {};
  for (const [name, key] of Object.entries(keys) as [keyof ShimTimeouts, string][]) {
    const value = config?.timeouts[key];
    if (value !== undefined) timeouts[name] = parseDuration(value);
  }
  return timeouts;
}

/**
 * The shim v2 runtime (io.containerd.runtime.v2.task): bundles under its state directory, work
 * directories under its root, and the ttrpc events server for shims at `<grpc address>.ttrpc`,
 * which listens from start-up and whose socket is removed when the daemon stops (close()).
 */
export const runtimePlugins = (hooks: DaemonHooks): AreaPlugins => ({
  backends: [
    {
      // containerd's legacy runtime: its tasks run on the runc shim v2 (shims/runtime/legacy-linux.ts)
      type: PluginType.RuntimeV1,
      id: 'linux',
      config: { shim: 'containerd-shim', runtime: 'runc', runtime_root: '', no_shim: false, shim_debug: false } satisfies LegacyLinuxConfig,
      init(ctx) {
        const config = ctx.config as LegacyLinuxConfig;
        ctx.meta.platforms.push(defaultPlatform());
        if (config.shim !== 'containerd-shim' || config.no_shim) hooks.warn(`plugins."${LEGACY_LINUX_RUNTIME}": shim and no_shim are not used: its tasks run on the runc shim v2`);
        return { runtime: config.runtime, runtimeRoot: config.runtime_root, shimDebug: config.shim_debug } satisfies LegacyLinuxSettings;
      },
    },
    {
      type: PluginType.RuntimeV2,
      id: 'task',
      requires: [PluginType.RuntimeV1],
      config: {
        platforms: [formatPlatform(defaultPlatform())],
        sched_core: false,
        shim_binaries: {},
        warm_shims: 1,
        tasks_per_shim: 8,
      } satisfies RuntimeConfig,
      init(ctx) {
        const config = ctx.config as RuntimeConfig;
        if (!Number.isInteger(config.warm_shims) || config.warm_shims < 0) throw new Error(`warm_shims: must be a whole number, 0 or more (got ${config.warm_shims})`);
        if (!Number.isInteger(config.tasks_per_shim) || config.tasks_per_shim < 1) throw new Error(`tasks_per_shim: must be a whole number, 1 or more (got ${config.tasks_per_shim})`);
        ctx.meta.platforms.push(...config.platforms.map(parsePlatform));
        return ShimRuntime.open({
          root: ctx.root,
          state: ctx.state,
          address: ctx.address,
          schedCore: config.sched_core,
          shimBinaries: { ...DEFAULT_SHIM_BINARIES, ...config.shim_binaries },
          legacyLinux: ctx.getByType<LegacyLinuxSettings>(PluginType.RuntimeV1).get('linux'),
          warmShims: config.warm_shims,
          tasksPerShim: config.tasks_per_shim,
          // containerd passes -debug to shims when it logs at debug or trace
          debug: ['debug', 'trace'].includes(hooks.config?.debug.level ?? ''),
          timeouts: shimTimeouts(hooks.config),
          observeCalls: hooks.observeShimCall,
          warn: hooks.warn,
        });
      },
    },
  ],
});
