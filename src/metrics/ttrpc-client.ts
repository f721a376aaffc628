// The daemon's ttrpc calls to shims, counted as go-grpc-prometheus counts a client's calls, under
// ledgerd's own names (containerd exports none for these).
import { Counter, Histogram, type Registry } from 'prom-client';
import { isClosedError, TtrpcError, Code, type CallObserver } from '../shims/wire/ttrpc/index.js';
import { codeName } from '../util/grpc-codes.js';

/** Shim calls run from a fraction of a millisecond (State) to seconds (Create, Delete). */
const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The status a failed call counts under: the shim's code, Unavailable for a connection that ended. */
function codeOf(error: Error | undefined): string {
  if (!error) return 'OK';
  if (error instanceof TtrpcError) return codeName(error.code);
  return codeName(isClosedError(error) ? Code.Unavailable : Code.Unknown);
}

export function ttrpcClientMetrics(registry: Registry): CallObserver {
  const labelNames = ['ttrpc_service', 'ttrpc_method'];
  const registers = [registry];
  const started = new Counter({ name: 'ledgerd_shim_ttrpc_started_total', help: 'ttrpc calls the daemon started to shims.', labelNames, registers });
  const handled = new Counter({
    name: 'ledgerd_shim_ttrpc_handled_total',
    help: 'ttrpc calls to shims completed, by status code.',
    labelNames: [...labelNames, 'ttrpc_code'],
    registers,
  });
  const handling = new Histogram({
    name: 'ledgerd_shim_ttrpc_handling_seconds',
    help: 'Time from sending a ttrpc call to a shim to its answer (seconds).',
    labelNames,
    buckets: BUCKETS,
    registers,
  });
  return (service, method) => {
    const labels = { ttrpc_service: service, ttrpc_method: method };
    const begun = process.hrtime.bigint();
    started.inc(labels);
    return (error) => {
      handled.inc({ ...labels, ttrpc_code: codeOf(error) });
      handling.observe(labels, Number(process.hrtime.bigint() - begun) / 1e9);
    };
  };
}
