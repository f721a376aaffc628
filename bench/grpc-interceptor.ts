// The gRPC metrics interceptor's own CPU per call, without a transport: a fake call goes through
// start, one message received, one sent and the status, as a unary call does. Steadier than
// bench/grpc-metrics.js (a whole server) on a busy machine, since only this code runs.
//   node dist/bench/grpc-interceptor.js
import type { ServerInterceptingCallInterface, ServerMethodDefinition } from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { GrpcServerMetrics } from '../src/metrics/grpc-server.js';

const CALLS = 200_000;
const ROUNDS = 5;

const method = { path: '/containerd.services.version.v1.Version/Version', requestStream: false, responseStream: false } as ServerMethodDefinition<unknown, unknown>;
let listener: { onReceiveMessage(message: unknown): void } | undefined;
const fake = {
  start: (l: typeof listener) => (listener = l),
  sendMetadata() {},
  sendMessage: (_message: unknown, done: () => void) => done(),
  sendStatus() {},
  startRead() {},
  getPeer: () => 'bench',
} as unknown as ServerInterceptingCallInterface;
const noop = () => {};

for (const histogram of [false, true]) {
  const metrics = new GrpcServerMetrics(new Registry(), { histogram });
  const run = (n: number) => {
    for (let i = 0; i < n; i++) {
      const call = metrics.interceptor(method, fake);
      call.start({ onReceiveMetadata: noop, onReceiveMessage: noop, onReceiveHalfClose: noop, onCancel: noop });
      listener!.onReceiveMessage({});
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
  perCall.sort((a, b) => a - b);
  process.stdout.write(`${histogram ? 'counters+histogram' : 'counters'}: ${perCall[ROUNDS >> 1]!.toFixed(2)} µs of CPU per call (median of ${ROUNDS} x ${CALLS})\n`);
}
