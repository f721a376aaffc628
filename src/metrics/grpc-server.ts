// Per-method gRPC server metrics under go-grpc-prometheus's names (what containerd exports), so
// the dashboards people have for containerd read ledgerd too. Taken at the server's interceptor
// seam: every registered service is counted, whoever registers it, and so are the statuses
// grpc-js answers itself (unimplemented methods, deadlines, cancellations).
import { ServerInterceptingCall, type ServerInterceptor, type ServiceDefinition } from '@grpc/grpc-js';
import { Counter, Histogram, type Registry } from 'prom-client';
import { codeName } from '../util/grpc-codes.js';

type GrpcType = 'unary' | 'client_stream' | 'server_stream' | 'bidi_stream';

interface MethodShape {
  readonly path: string;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
}

type MethodLabels = Record<'grpc_service' | 'grpc_method' | 'grpc_type', string>;

/** What go-grpc-prometheus pre-creates for each method: every code of grpc_server_handled_total. */
const ALL_CODES = Array.from({ length: 17 }, (_, code) => codeName(code));

/** prometheus.DefBuckets, go-grpc-prometheus's default for the handling-time histogram. */
const DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

function grpcType(method: MethodShape): GrpcType {
  if (method.requestStream) return method.responseStream ? 'bidi_stream' : 'client_stream';
  return method.responseStream ? 'server_stream' : 'unary';
}

export interface GrpcServerMetricsOptions {
  /** containerd's `[metrics] grpc_histogram`: also keep grpc_server_handling_seconds. */
  readonly histogram: boolean;
}

export class GrpcServerMetrics {
  private readonly started: Counter;
  private readonly handled: Counter;
  private readonly received: Counter;
  private readonly sent: Counter;
  private readonly handling: Histogram | undefined;
  /** Label sets by method path, made once: the request path only looks them up. */
  private readonly labels = new Map<string, MethodLabels>();

  constructor(registry: Registry, options: GrpcServerMetricsOptions) {
    const labelNames = ['grpc_service', 'grpc_method', 'grpc_type'];
    const registers = [registry];
    this.started = new Counter({ name: 'grpc_server_started_total', help: 'Total number of RPCs started on the server.', labelNames, registers });
    this.handled = new Counter({
      name: 'grpc_server_handled_total',
      help: 'Total number of RPCs completed on the server, regardless of success or failure.',
      labelNames: [...labelNames, 'grpc_code'],
      registers,
    });
    this.received = new Counter({ name: 'grpc_server_msg_received_total', help: 'Total number of RPC stream messages received on the server.', labelNames, registers });
    this.sent = new Counter({ name: 'grpc_server_msg_sent_total', help: 'Total number of gRPC stream messages sent by the server.', labelNames, registers });
    if (options.histogram) {
      this.handling = new Histogram({
        name: 'grpc_server_handling_seconds',
        help: 'Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.',
        labelNames,
        buckets: DEFAULT_BUCKETS,
        registers,
      });
    }
  }

  /** Every method of a service starts at zero (go-grpc-prometheus's Register), so rates exist from the first scrape. */
  initialize(definition: ServiceDefinition): void {
    for (const method of Object.values(definition)) {
      const labels = this.labelsOf(method);
      this.started.inc(labels, 0);
      this.received.inc(labels, 0);
      this.sent.inc(labels, 0);
      this.handling?.zero(labels);
      for (const code of ALL_CODES) this.handled.inc({ ...labels, grpc_code: code }, 0);
    }
  }

  readonly interceptor: ServerInterceptor = (method, call) => {
    const labels = this.labelsOf(method);
    const started = process.hrtime.bigint();
    this.started.inc(labels);
    return new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMessage: (message, pass) => {
            this.received.inc(labels);
            pass(message);
          },
        }),
      sendMessage: (message, next) => {
        this.sent.inc(labels);
        next(message);
      },
      sendStatus: (status, next) => {
        this.handled.inc({ ...labels, grpc_code: codeName(status.code) });
        this.handling?.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
        next(status);
      },
    });
  };

  private labelsOf(method: MethodShape): MethodLabels {
    let labels = this.labels.get(method.path);
    if (!labels) {
      // "/containerd.services.tasks.v1.Tasks/Create"
      const slash = method.path.lastIndexOf('/');
      labels = { grpc_service: method.path.slice(1, slash), grpc_method: method.path.slice(slash + 1), grpc_type: grpcType(method) };
      this.labels.set(method.path, labels);
    }
    return labels;
  }
}
