// Per-method gRPC server metrics under go-grpc-prometheus's names (what containerd exports), so
// the dashboards people have for containerd read ledgerd too. Taken at the server's interceptor
// seam: every registered service is counted, whoever registers it, and so are the statuses
// grpc-js answers itself (unimplemented methods, deadlines, cancellations).
import { ServerInterceptingCall, type ServerInterceptor, type ServiceDefinition } from '@grpc/grpc-js';
import { Counter, type Registry } from 'prom-client';
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

/**
 * One method's counts. The request path only adds to these numbers; they become Prometheus
 * samples when a scrape asks (prom-client's inc/observe hash a label set on every call, which
 * was most of the interceptor's cost).
 */
class MethodTally {
  started = 0;
  received = 0;
  sent = 0;
  /** Completed calls by status code (0..16). */
  readonly handled = new Float64Array(ALL_CODES.length);
  /** Handling times per bucket (not cumulative), the last one for +Inf. */
  readonly buckets = new Float64Array(DEFAULT_BUCKETS.length + 1);
  sum = 0;

  constructor(readonly labels: MethodLabels) {}

  observe(seconds: number): void {
    let i = 0;
    while (i < DEFAULT_BUCKETS.length && seconds > DEFAULT_BUCKETS[i]!) i++;
    this.buckets[i]!++;
    this.sum += seconds;
  }
}

export class GrpcServerMetrics {
  /** By method path, made once per method: the request path only looks them up. */
  private readonly tallies = new Map<string, MethodTally>();
  private readonly histogram: boolean;

  constructor(registry: Registry, options: GrpcServerMetricsOptions) {
    this.histogram = options.histogram;
    const labelNames = ['grpc_service', 'grpc_method', 'grpc_type'];
    const registers = [registry];
    const tallies = () => this.tallies.values();
    const counter = (name: string, help: string, count: (tally: MethodTally) => number) =>
      new Counter({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          for (const tally of tallies()) this.inc(tally.labels, count(tally));
        },
      });
    counter('grpc_server_started_total', 'Total number of RPCs started on the server.', (t) => t.started);
    new Counter({
      name: 'grpc_server_handled_total',
      help: 'Total number of RPCs completed on the server, regardless of success or failure.',
      labelNames: [...labelNames, 'grpc_code'],
      registers,
      collect() {
        this.reset();
        for (const tally of tallies()) tally.handled.forEach((n, code) => this.inc({ ...tally.labels, grpc_code: ALL_CODES[code]! }, n));
      },
    });
    counter('grpc_server_msg_received_total', 'Total number of RPC stream messages received on the server.', (t) => t.received);
    counter('grpc_server_msg_sent_total', 'Total number of gRPC stream messages sent by the server.', (t) => t.sent);
    if (options.histogram) registry.registerMetric(handlingHistogram(tallies) as never);
  }

  /** Every method of a service starts at zero (go-grpc-prometheus's Register), so rates exist from the first scrape. */
  initialize(definition: ServiceDefinition): void {
    for (const method of Object.values(definition)) this.tallyOf(method);
  }

  /**
   * The handling time is go-grpc-prometheus's: for a unary call from its request decoded to its
   * reply handed over (Go runs the interceptor after receiving the body and before encoding and
   * writing the reply), for a stream from its start to its status. Timed from the call's headers,
   * a unary call also counted the wait for its body and the write of its reply, which made a
   * trivial call look ten times slower than containerd's under the same series.
   */
  readonly interceptor: ServerInterceptor = (method, call) => {
    const tally = this.tallyOf(method);
    const timed = this.histogram;
    const unary = !method.requestStream && !method.responseStream;
    let began = timed ? process.hrtime.bigint() : 0n;
    let ended: bigint | undefined;
    tally.started++;
    return new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMessage: (message, pass) => {
            tally.received++;
            if (timed && unary) began = process.hrtime.bigint();
            pass(message);
          },
        }),
      sendMessage: (message, next) => {
        tally.sent++;
        if (timed && unary) ended = process.hrtime.bigint();
        next(message);
      },
      sendStatus: (status, next) => {
        const code = status.code ?? 0;
        tally.handled[code >= 0 && code < ALL_CODES.length ? code : 2]!++; // anything else is Unknown
        if (timed) tally.observe(Number((ended ?? process.hrtime.bigint()) - began) / 1e9);
        next(status);
      },
    });
  };

  private tallyOf(method: MethodShape): MethodTally {
    let tally = this.tallies.get(method.path);
    if (!tally) {
      // "/containerd.services.tasks.v1.Tasks/Create"
      const slash = method.path.lastIndexOf('/');
      tally = new MethodTally({ grpc_service: method.path.slice(1, slash), grpc_method: method.path.slice(slash + 1), grpc_type: grpcType(method) });
      this.tallies.set(method.path, tally);
    }
    return tally;
  }
}

/** grpc_server_handling_seconds as a metric prom-client's registry prints (it has no way to set a Histogram's buckets). */
function handlingHistogram(tallies: () => Iterable<MethodTally>) {
  const name = 'grpc_server_handling_seconds';
  const bounds = [...DEFAULT_BUCKETS.map(String), '+Inf'];
  return {
    name,
    help: 'Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.',
    type: 'histogram',
    aggregator: 'sum',
    get() {
      const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
      for (const tally of tallies()) {
        let cumulative = 0;
        tally.buckets.forEach((n, i) => {
          cumulative += n;
          values.push({ labels: { ...tally.labels, le: bounds[i]! }, value: cumulative, metricName: `${name}_bucket` });
        });
        values.push({ labels: tally.labels, value: tally.sum, metricName: `${name}_sum` });
        values.push({ labels: tally.labels, value: cumulative, metricName: `${name}_count` });
      }
      return { name, help: this.help, type: this.type, aggregator: this.aggregator, values };
    },
  };
}
