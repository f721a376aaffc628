import { mkdirSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import type { Server as GrpcServer, ServerInterceptor } from '@grpc/grpc-js';
import { verifyLogInBackground, type EventLog } from '../log/index.js';
import type { ProjectionSet } from '../projections/index.js';
import { ignoredSettings, PluginHost, PluginType, uri, type DaemonConfig } from '../plugin/index.js';
import { isGrpcPlugin } from '../services/grpc-service.js';
import { serviceDefinition } from '../api/proto.js';
import type { DaemonMetrics } from '../metrics/registry.js';
import { serveDebug } from '../debug/server.js';
import type { StatableTask } from '../metrics/containers.js';
import { listenGrpc, stopGrpc } from './grpc-server.js';
import type { GarbageCollector } from '../gc/collector.js';
import { registrations } from './registrations.js';
import { TRACING_PLUGIN, type TracingPlugin } from './plugins/tracing.js';
import { withShimCallSpans } from '../tracing/shim-calls.js';
import { isReconcilable, reconcilesWhenServing } from './reconcile.js';
import { releaseMemoryEvery } from './memory-release.js';
import { applyRetentionEvery } from './log-retention.js';
import type { Logger } from './logger.js';
import { isLogExporter } from '../export/exporter.js';

/** How often the daemon gives back memory it no longer uses (see memory-release.ts). */
const MEMORY_RELEASE_MS = 10_000;
/** How often the log's retention policy (if any) is applied. */
const LOG_RETENTION_MS = 60_000;

/** The tracing plugin's server interceptor, when tracing is configured (otherwise none: calls pay nothing). */
function tracingInterceptors(host: PluginHost): ServerInterceptor[] {
  const tracing = host.plugins().find((p) => uri(p.registration) === TRACING_PLUGIN && !p.error)?.instance as TracingPlugin | undefined;
  return tracing?.interceptor ? [tracing.interceptor] : [];
}

const listsTasks = (service: unknown): service is { allTasks(): StatableTask[] } => typeof (service as { allTasks?: unknown } | undefined)?.allTasks === 'function';

export interface RunningDaemon {
  readonly config: DaemonConfig;
  stop(): Promise<void>;
}

/**
 * Start-up: plugins in graph order, then the projections (checkpoint + replay of the log's
 * tail), reconciliation with what is on disk, then the socket. Nothing is served before the
 * read models are current.
 */
export async function startDaemon(config: DaemonConfig, logger: Logger): Promise<RunningDaemon> {
  mkdirSync(config.root, { recursive: true, mode: 0o700 });
  mkdirSync(config.state, { recursive: true, mode: 0o711 });
  const started = process.hrtime.bigint();
  // counted only where they can be read: every call, append and shim call pays for the counting
  // (and prom-client is loaded only then)
  const metrics = config.metrics.address ? await daemonMetrics(config) : undefined;
  let serving = false;
  const verifying = new AbortController();
  const host: PluginHost = new PluginHost(
    registrations({ config, plugins: () => host.plugins(), serving: () => serving, subscribers: metrics?.subscribers, observeShimCall: withShimCallSpans(metrics?.shimCalls), warn: (m) => logger.warn(m) }),
    config,
    // a skipped plugin (one that is off unless configured) is news, not a warning
    (message, level) => (level === 'info' ? logger.info(message) : logger.warn(message)),
  );
  let grpcServer: GrpcServer | undefined;
  let metricsServer: HttpServer | undefined;
  let memoryRelease: ReturnType<typeof releaseMemoryEvery> | undefined;
  let retention: ReturnType<typeof applyRetentionEvery> | undefined;
  let debugServer: HttpServer | undefined;
  try {
    await host.init();
    const ignored = [...ignoredSettings(config), ...host.ignored];
    if (ignored.length > 0) logger.warn(`containerd settings that ledgerd reads but does not act on: ${ignored.join(', ')}`);
    const [log] = host.instances(PluginType.Log) as EventLog[];
    const [projections] = host.instances(PluginType.Projection) as ProjectionSet[];
    if (!log || !projections) throw new Error('the event log did not load: see the plugin errors above');
    for (const report of projections.start()) {
      logger.info(`projection ${report.name}: checkpoint at ${report.checkpointSeq}, replayed ${report.replayed} events`);
    }
    memoryRelease = releaseMemoryEvery(log, MEMORY_RELEASE_MS, (m) => logger.warn(m));
    retention = applyRetentionEvery(log, projections, LOG_RETENTION_MS, logger);
    metrics?.watch(log, projections);
    const taskLister = host.instances(PluginType.Service).find(listsTasks);
    if (taskLister) metrics?.watchContainers(log, () => taskLister.allTasks());
    metrics?.watchShims(config.grpc.address);
    for (const service of host.instances(PluginType.Service).filter(isReconcilable)) {
      for (const line of await service.reconcile()) logger.info(`reconciled: ${line}`);
    }
    for (const collector of host.instances(PluginType.Gc) as GarbageCollector[]) collector.start();
    const exporters = host.instances(PluginType.Export).filter(isLogExporter);
    metrics?.watchExporters(exporters);
    for (const exporter of exporters) exporter.start();

    // the metrics and debug sockets before the gRPC one: a client that finds the daemon serving finds them too
    if (metrics) metricsServer = await (await import('../metrics/http.js')).serveMetrics(config.metrics.address, metrics.registry);
    if (config.debug.address) debugServer = await serveDebug({ address: config.debug.address, uid: config.debug.uid, gid: config.debug.gid });
    const services = host.instances(PluginType.Grpc).filter(isGrpcPlugin).flatMap((plugin) => plugin.services);
    for (const service of services) metrics?.grpc.initialize(serviceDefinition(service.name));
    grpcServer = await listenGrpc(services, {
      address: config.grpc.address,
      uid: config.grpc.uid,
      gid: config.grpc.gid,
      maxRecvMessageSize: config.grpc.max_recv_message_size,
      maxSendMessageSize: config.grpc.max_send_message_size,
      interceptors: [...(metrics ? [metrics.grpc.interceptor] : []), ...tracingInterceptors(host)],
    });
    serving = true;
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    logger.info(`ledgerd serving on ${config.grpc.address} (log head ${log.head}, started in ${ms.toFixed(0)} ms)`);
    for (const plugin of host.instances(PluginType.Grpc).filter(reconcilesWhenServing)) {
      void plugin.whenServing().then(
        (lines) => lines.forEach((line) => logger.info(`reconciled: ${line}`)),
        (err: Error) => logger.warn(`reconciling once serving: ${err.message}`),
      );
    }
    memoryRelease.release(); // what the replay and start-up touched and left
    void checkIntegrity(log);
    void retention.run();
  } catch (err) {
    await release();
    throw err;
  }

  /** Everything start-up opened, closed in reverse: on a failed start and at stop. */
  async function release(): Promise<void> {
    memoryRelease?.stop();
    await retention?.stop();
    if (grpcServer) await stopGrpc(grpcServer);
    metricsServer?.close();
    debugServer?.close();
    await host.close();
  }

  /**
   * Start-up reads only the records after the checkpoints; the rest of the log is checked here,
   * in the background, so damage anywhere is reported without making start-up grow with the log.
   * A damaged log turns the health check to NOT_SERVING.
   */
  async function checkIntegrity(log: EventLog): Promise<void> {
    const report = await verifyLogInBackground(log, verifying.signal).catch((err: Error) => ({ ok: false, problems: [err.message], records: 0 }));
    memoryRelease?.release();
    if (!report) return;
    if (report.ok) {
      logger.info(`event log verified: ${report.records} records`);
      return;
    }
    serving = false;
    for (const problem of report.problems) logger.error(problem);
    logger.error('the event log is damaged: health reports NOT_SERVING; run `ledgerd verify` with the daemon stopped');
  }
  let stopping: Promise<void> | undefined;
  return {
    config,
    stop: () =>
      (stopping ??= (async () => {
        serving = false;
        verifying.abort();
        await release();
        logger.info('ledgerd stopped');
      })()),
  };
}

async function daemonMetrics(config: DaemonConfig): Promise<DaemonMetrics> {
  const { DaemonMetrics } = await import('../metrics/registry.js');
  return new DaemonMetrics({ grpcHistogram: config.metrics.grpc_histogram });
}
