// `io.containerd.internal.v1.tracing` once a span processor loaded: the OpenTelemetry SDK's tracer
// provider with containerd 1.6's sampler and resource, installed as the daemon's tracer, and the
// gRPC server interceptor. Loaded only when tracing is configured.
import { context, diag, DiagLogLevel, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags, type Attributes, type Context, type Span, type SpanContext } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, TraceIdRatioBasedSampler, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { ServerInterceptor } from '@grpc/grpc-js';
import { installTracer, type ContainerRef, type OpenSpan, type SpanAttributes, type Tracer } from '../util/tracing.js';
import { invalidArgument } from '../util/errdefs.js';
import { CallGroups, containerKey } from './call-groups.js';
import { tracingInterceptor } from './grpc-server.js';

/** containerd's TraceConfig. */
export interface TraceConfig {
  service_name: string;
  sampling_ratio: number;
}

export interface RunningTracing {
  readonly interceptor: ServerInterceptor;
  /** Sends the spans still queued and uninstalls the tracer. */
  close(): Promise<void>;
}

/** How long a stopping daemon waits for the spans still queued to reach the collector. */
const FLUSH_AT_CLOSE_MS = 5000;

/** `warn` gets the SDK's errors and warnings: spans the collector did not take, mostly. */
export function startTracing(config: TraceConfig, processors: SpanProcessor[], warn: (message: string) => void = () => {}): RunningTracing {
  const ratio = config.sampling_ratio;
  if (!(ratio >= 0 && ratio <= 1)) throw invalidArgument(`plugins."io.containerd.internal.v1.tracing".sampling_ratio: ${ratio} must be between 0 and 1`);
  const provider = new BasicTracerProvider({
    // as containerd 1.6: by trace id alone, so every span of one trace gets the same decision
    sampler: new TraceIdRatioBasedSampler(ratio),
    resource: defaultResource().merge(resourceFromAttributes({ 'service.name': config.service_name })),
    spanProcessors: processors,
  });
  const report = (message: string, ...args: unknown[]) => warn(`tracing: ${[message, ...args.map(describe)].join(' ')}`);
  diag.setLogger({ error: report, warn: report, info() {}, debug() {}, verbose() {} }, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  const tracer = provider.getTracer('ledgerd');
  const groups = new CallGroups<SpanContext>();
  installTracer(new SdkTracer(tracer, groups));
  return {
    interceptor: tracingInterceptor(tracer, groups),
    async close() {
      installTracer(undefined);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, FLUSH_AT_CLOSE_MS)));
      await Promise.race([provider.shutdown().catch((err: unknown) => report('the spans still queued at stop were not sent:', err)), timeout]);
      clearTimeout(timer);
      diag.disable();
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
}

class SdkTracer implements Tracer {
  constructor(
    private readonly tracer: ReturnType<BasicTracerProvider['getTracer']>,
    private readonly groups: CallGroups<SpanContext>,
  ) {}

  inSpan<T>(name: string, attributes: SpanAttributes, work: (span: OpenSpan) => Promise<T>, container?: ContainerRef): Promise<T> {
    const parent = container ? this.containerTrace(container) : context.active();
    return this.tracer.startActiveSpan(name, { attributes: attributes as Attributes }, parent, async (span) => {
      const open = openSpan(span);
      try {
        const result = await work(open);
        open.end();
        return result;
      } catch (err) {
        open.end(err);
        throw err;
      }
    });
  }

  /** The root of the container's trace as a parent, or none: the work is a trace of its own. */
  private containerTrace({ namespace, id }: ContainerRef): Context {
    const root = this.groups.rootFor({ key: containerKey(namespace, id), opens: false, closes: false });
    return root ? trace.setSpanContext(ROOT_CONTEXT, root) : ROOT_CONTEXT;
  }

  startSpan(name: string, attributes: SpanAttributes, kind: 'internal' | 'client' = 'internal'): OpenSpan {
    return openSpan(this.tracer.startSpan(name, { attributes: attributes as Attributes, kind: kind === 'client' ? SpanKind.CLIENT : SpanKind.INTERNAL }));
  }

  sampledIds() {
    const current = trace.getActiveSpan()?.spanContext();
    return current && current.traceFlags & TraceFlags.SAMPLED ? { traceId: current.traceId, spanId: current.spanId } : undefined;
  }
}

const openSpan = (span: Span): OpenSpan => ({
  setAttributes: (attributes) => span.setAttributes(attributes as Attributes),
  end(error) {
    if (error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
    span.end();
  },
});

function describe(value: unknown): string {
  if (value instanceof Error) return value.message;
  try {
    return typeof value === 'string' ? value : JSON.stringify(value);
  } catch {
    return String(value);
  }
}
