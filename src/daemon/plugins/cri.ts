import { Connection } from '../../cli/grpc-client.js';
import { CRI_NAMESPACE, defaultCriConfig, type CriConfig } from '../../cri/config.js';
import { CriImages } from '../../cri/images.js';
import { CRI_API_VERSION } from '../../cri/runtime-info.js';
import { PluginType } from '../../plugin/index.js';
import type { EventLog } from '../../log/index.js';
import { criImageService, criRuntimeService, CRI_IMAGE_SERVICE, CRI_RUNTIME_SERVICE } from '../../services/cri.js';
import { PodCommands } from '../../commands/pods.js';
import { CriPods } from '../../cri/pods.js';
import { runtimeOptions } from '../../cri/runtime-options.js';
import { criContainersProjection, podsProjection } from '../../projections/index.js';
import { CriContainerCommands } from '../../commands/cri-containers.js';
import { CriContainers } from '../../cri/containers.js';
import { streamServerOptions } from '../../cri/streaming/config.js';
import { CriStreamServer } from '../../cri/streaming/http-server.js';
import { CriStreamRuntime } from '../../cri/streaming/runtime.js';
import { join } from 'node:path';
import { commandContext, projectionsOf, type AreaPlugins } from './shared.js';

/**
 * Kubernetes' CRI (io.containerd.grpc.v1.cri): RuntimeService and ImageService on the daemon's
 * socket. As containerd's CRI plugin is a client of containerd's own services, this one works
 * through the daemon's containerd API in namespace k8s.io, over a connection to its own socket
 * (opened at the first call, when the daemon serves), so what the CRI does is in the log as any
 * client's calls are.
 */
export const criPlugins = (): AreaPlugins => ({
  grpc: [
    {
      type: PluginType.Grpc,
      id: 'cri',
      requires: [PluginType.Log, PluginType.Projection, PluginType.Service],
      config: defaultCriConfig(),
      async init(ctx) {
        const config = ctx.config as CriConfig;
        // a runtime option its shim does not have is a config error, named at start-up
        for (const runtime of Object.values(config.containerd.runtimes)) runtimeOptions(runtime.runtime_type || 'io.containerd.runc.v2', runtime.options);
        ctx.meta.exports.CRIVersion = CRI_API_VERSION;
        const daemon = new Connection(ctx.address, CRI_NAMESPACE);
        const images = new CriImages(daemon, config, ctx.daemonRoot);
        const podCommands = new PodCommands(commandContext(ctx), projectionsOf(ctx).add(podsProjection));
        const pods = new CriPods(daemon, config, images, podCommands, { root: ctx.root, state: ctx.state });
        const containerCommands = new CriContainerCommands(commandContext(ctx), projectionsOf(ctx).add(criContainersProjection));
        const containers = new CriContainers(daemon, config, images, pods, containerCommands, ctx.state);
        pods.containers = containers;
        const streaming = new CriStreamServer(await streamServerOptions(config), new CriStreamRuntime(daemon, containers, pods, join(ctx.state, 'exec')));
        await streaming.start();
        return {
          services: [
            { name: CRI_RUNTIME_SERVICE, implementation: criRuntimeService(config, pods, containers, streaming, join(ctx.daemonRoot, `io.containerd.snapshotter.v1.${config.containerd.snapshotter}`), { log: ctx.get<EventLog>(PluginType.Log), projections: projectionsOf(ctx) }) },
            { name: CRI_IMAGE_SERVICE, implementation: criImageService(images) },
          ],
          whenServing: async () => [...(await pods.reconcileUnfinished()), ...(await containers.reconcileUnfinished()), ...(await containers.reattachAll())],
          close: async () => {
            await streaming.stop();
            daemon.close();
          },
        };
      },
    },
  ],
});
