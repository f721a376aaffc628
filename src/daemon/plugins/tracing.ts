// containerd 1.6's two tracing plugins, with its keys and defaults (tracing/plugin/otlp.go). The
// OpenTelemetry SDK is imported only when the otlp section has an endpoint: without one the
// processor skips, the tracing plugin finds no processor, and nothing of the SDK is loaded.
import type { ServerInterceptor } from '@grpc/grpc-js';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { PluginType, SkipPlugin } from '../../plugin/index.js';
import type { OtlpConfig } from '../../tracing/otlp-exporter.js';
import type { TraceConfig } from '../../tracing/sdk-tracer.js';
import type { AreaPlugins, DaemonHooks } from './shared.js';

export const TRACING_PLUGIN = `${PluginType.Internal}.tracing`;

/** The tracing plugin's instance: the interceptor the gRPC server adds when tracing is on. */
export interface TracingPlugin {
  readonly interceptor?: ServerInterceptor;
  close(): Promise<void> | void;
}

export const tracingPlugins = (hooks: DaemonHooks): AreaPlugins => ({
  backends: [
    {
      type: PluginType.TracingProcessor,
      id: 'otlp',
      config: { endpoint: '', protocol: '', insecure: false } satisfies OtlpConfig,
      async init(ctx) {
        const config = ctx.config as OtlpConfig;
        if (config.endpoint === '') throw new SkipPlugin('no OpenTelemetry endpoint');
        const { otlpSpanProcessor } = await import('../../tracing/otlp-exporter.js');
        return otlpSpanProcessor(config);
      },
    },
    {
      type: PluginType.Internal,
      id: 'tracing',
      requires: [PluginType.TracingProcessor],
      config: { service_name: 'containerd', sampling_ratio: 1.0 } satisfies TraceConfig,
      async init(ctx): Promise<TracingPlugin> {
        const processors = [...ctx.getByType<SpanProcessor>(PluginType.TracingProcessor).values()];
        if (processors.length === 0) return { close() {} };
        const { startTracing } = await import('../../tracing/sdk-tracer.js');
        return startTracing(ctx.config as TraceConfig, processors, (message) => hooks.warn(message));
      },
    },
  ],
});
