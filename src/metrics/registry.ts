import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { filter, map } from 'rxjs';
import type { EventLog } from '../log/index.js';
import type { ProjectionSet } from '../projections/index.js';
import type { CallObserver } from '../shims/wire/ttrpc/index.js';
import { GrpcServerMetrics } from './grpc-server.js';
import { ttrpcClientMetrics } from './ttrpc-client.js';
import { watchContainers, type StatableTask } from './containers.js';
import { watchShims } from './shims.js';
import { watchExporters } from './export.js';
import type { LogExporter } from '../export/exporter.js';

export interface DaemonMetricsOptions {
  /** containerd's `[metrics] grpc_histogram`. */
  readonly grpcHistogram: boolean;
}

/** The daemon's Prometheus metrics, fed from the log's and the projections' observables. */
export class DaemonMetrics {
  readonly registry = new Registry();
  readonly subscribers: Gauge;
  /** Per-method counts of the gRPC server (its interceptor). */
  readonly grpc: GrpcServerMetrics;
  /** Watches the daemon's ttrpc calls to shims. */
  readonly shimCalls: CallObserver;
  private readonly appends: Counter;
  private readonly batchSize: Histogram;

  constructor(options: DaemonMetricsOptions = { grpcHistogram: false }) {
    // the event-loop delay is sampled every 100 ms, not prom-client's 10: a timer every 10 ms woke
    // an idle daemon 100 times a second, and each wake-up waits for a CPU on a busy node
    collectDefaultMetrics({ register: this.registry, prefix: 'ledgerd_process_', eventLoopMonitoringPrecision: 100 });
    this.grpc = new GrpcServerMetrics(this.registry, { histogram: options.grpcHistogram });
    this.shimCalls = ttrpcClientMetrics(this.registry);
    this.appends = new Counter({
      name: 'ledgerd_log_appended_events_total',
      help: 'Events appended to the log (durable)',
      registers: [this.registry],
    });
    this.batchSize = new Histogram({
      name: 'ledgerd_log_append_batch_size',
      help: 'Events per append call',
      buckets: [1, 2, 4, 8, 16, 64, 256, 1024],
      registers: [this.registry],
    });
    this.subscribers = new Gauge({
      name: 'ledgerd_event_subscribers',
      help: 'Open event subscriptions (Events.Subscribe and Log.Subscribe)',
      registers: [this.registry],
    });
  }

  /** containerd's container_* families from the running tasks' shims, and the OOM events of the log. */
  watchContainers(log: EventLog, tasks: () => readonly StatableTask[]): void {
    const ooms$ = log.tail$(log.head + 1).pipe(
      filter((record) => record.type === 'TaskOOM'),
      map((record) => ({ namespace: record.namespace, id: (record.payload as { containerId: string }).containerId })),
    );
    watchContainers(this.registry, tasks, ooms$);
  }

  /** The export plugins: lag, position, connection, counts. */
  watchExporters(exporters: readonly LogExporter[]): void {
    watchExporters(this.registry, exporters);
  }

  /** The shims serving the daemon at `grpcAddress`: how many, and their memory. */
  watchShims(grpcAddress: string): void {
    watchShims(this.registry, grpcAddress);
  }

  watch(log: EventLog, projections: ProjectionSet): void {
    log.appended$.subscribe(({ events }) => {
      if (events === 0) return;
      this.appends.inc(events);
      this.batchSize.observe(events);
    });
    new Gauge({
      name: 'ledgerd_log_head_seq',
      help: 'Highest durable sequence number',
      registers: [this.registry],
      collect() {
        this.set(log.head);
      },
    });
    new Gauge({
      name: 'ledgerd_projection_lag_events',
      help: 'Records appended but not yet folded into a projection',
      labelNames: ['projection'],
      registers: [this.registry],
      collect() {
        for (const runner of projections.all()) this.set({ projection: runner.name }, log.head - runner.applied);
      },
    });
  }
}
