import type { CallObserver } from '../shims/wire/ttrpc/index.js';
import { activeTracer } from '../util/tracing.js';

const unobserved: CallObserver = () => () => undefined;

/**
 * `observe` (metrics, when on) plus, when tracing is on, a client span for each ttrpc call to a
 * shim, a child of the span current where the call is made (the gRPC call or command that needed
 * the shim).
 */
export function withShimCallSpans(observe: CallObserver = unobserved): CallObserver {
  return (service, method) => {
    const done = observe(service, method);
    const tracer = activeTracer();
    if (!tracer) return done;
    const span = tracer.startSpan(`${service}/${method}`, { 'rpc.system': 'ttrpc', 'rpc.service': service, 'rpc.method': method }, 'client');
    return (error) => {
      done(error);
      span.end(error);
    };
  };
}
