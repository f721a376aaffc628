/**
 * The daemon's tracer, process-wide as containerd's (otel.SetTracerProvider). Nothing is installed
 * unless `[plugins."io.containerd.tracing.processor.v1.otlp"]` has an endpoint: then the tracing
 * plugin loads the OpenTelemetry SDK and installs a tracer here. Code on the request path asks
 * `activeTracer()` and does nothing more when there is none, so a daemon without tracing neither
 * loads the SDK nor pays for spans.
 */

export type SpanAttributes = Readonly<Record<string, string | number | boolean | readonly string[]>>;

/** A span's W3C ids as lowercase hex: 32 digits of trace id, 16 of span id. */
export interface SpanIds {
  readonly traceId: string;
  readonly spanId: string;
}

export interface OpenSpan {
  setAttributes(attributes: SpanAttributes): void;
  /** Ends the span; an error marks it failed with the error's message. */
  end(error?: unknown): void;
}

/** A container by namespace and id: work done for it joins the trace of the calls that name it. */
export interface ContainerRef {
  readonly namespace: string;
  readonly id: string;
}

export interface Tracer {
  /**
   * Runs `work` as the current span, a child of the span current here, or with `container`, of
   * the root of that container's trace (see tracing/call-groups.ts); the span ends when the work
   * settles, failed if it threw.
   */
  inSpan<T>(name: string, attributes: SpanAttributes, work: (span: OpenSpan) => Promise<T>, container?: ContainerRef): Promise<T>;
  /** A child of the current span that the caller ends: for work whose end comes as a callback. */
  startSpan(name: string, attributes: SpanAttributes, kind?: 'internal' | 'client'): OpenSpan;
  /** The current span's ids, if it is sampled (its trace reaches the exporter). */
  sampledIds(): SpanIds | undefined;
}

let installed: Tracer | undefined;

export const activeTracer = (): Tracer | undefined => installed;

/** Installs the tracer (the tracing plugin at start-up), or none (at its close). */
export function installTracer(tracer: Tracer | undefined): void {
  installed = tracer;
}

/** `work` as a span when tracing is on (see Tracer.inSpan); otherwise just `work`. */
export function traced<T>(name: string, attributes: SpanAttributes, work: (span?: OpenSpan) => Promise<T>, container?: ContainerRef): Promise<T> {
  return installed ? installed.inSpan(name, attributes, work, container) : work();
}
