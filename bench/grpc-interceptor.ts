// The gRPC interceptors' own CPU per call, without a transport: a fake call goes through start,
// its metadata, one message received, the half-close, one message sent and the status, as a unary
// call does. Steadier than bench/grpc-metrics.js (a whole server) on a busy machine, since only
// this code runs. With tracing off the tracing interceptor is not installed at all (nothing to
// measure); with tracing on its spans go to a batch processor whose exporter drops them.
//   node dist/bench/grpc-interceptor.js
import { Metadata, type ServerInterceptingCallInterface, type ServerInterceptor, type ServerMethodDefinition } from '@grpc/grpc-js';
import { BatchSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { Registry } from 'prom-client';
import { GrpcServerMetrics } from '../src/metrics/grpc-server.js';
import { startTracing } from '../src/tracing/sdk-tracer.js';

const CALLS = 200_000;
const ROUNDS = 5;

const method = { path: '/containerd.services.version.v1.Version/Version', requestStream: false, responseStream: false } as ServerMethodDefinition<unknown, unknown>;
let listener: { onReceiveMetadata(metadata: Metadata): void; onReceiveMessage(message: unknown): void; onReceiveHalfClose(): void } | undefined;
const fake = {
  start: (l: typeof listener) => (listener = l),
  sendMetadata() {},
  sendMessage: (_message: unknown, done: () => void) => done(),
  sendStatus() {},
  startRead() {},
  getPeer: () => 'bench',
} as unknown as ServerInterceptingCallInterface;
const noop = () => {};
const metadata = new Metadata();
metadata.set('containerd-namespace', 'default');

/** µs of CPU per call through `interceptor`: median of ROUNDS rounds of CALLS calls. */
function measure(interceptor: ServerInterceptor): number {
  const run = (n: number) => {
    for (let i = 0; i < n; i++) {
      const call = interceptor(method, fake);
      call.start({ onReceiveMetadata: noop, onReceiveMessage: noop, onReceiveHalfClose: noop, onCancel: noop });
      listener!.onReceiveMetadata(metadata);
      listener!.onReceiveMessage({});
      listener!.onReceiveHalfClose();
      call.sendMessage({}, noop);
      call.sendStatus({ code: 0, details: '' });
    }
  };
  run(CALLS / 4); // warm-up
  const perCall: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const before = process.cpuUsage();
    run(CALLS);
    const used = process.cpuUsage(before);
    perCall.push((used.user + used.system) / CALLS);
  }
  return perCall.sort((a, b) => a - b)[ROUNDS >> 1]!;
}

const report = (what: string, us: number) => process.stdout.write(`${what}: ${us.toFixed(2)} µs of CPU per call (median of ${ROUNDS} x ${CALLS})\n`);

for (const histogram of [false, true]) {
  report(`metrics, ${histogram ? 'counters+histogram' : 'counters'}`, measure(new GrpcServerMetrics(new Registry(), { histogram }).interceptor));
}

const dropping: SpanExporter = {
  export: (_spans: ReadableSpan[], done) => done({ code: 0 }),
  shutdown: async () => {},
};
for (const ratio of [1, 0]) {
  const tracing = startTracing({ service_name: 'bench', sampling_ratio: ratio }, [new BatchSpanProcessor(dropping, { maxQueueSize: 1 << 16 })]);
  report(`tracing on, sampling_ratio ${ratio}`, measure(tracing.interceptor));
  await tracing.close();
}
