// The span processor of `io.containerd.tracing.processor.v1.otlp`: a batch processor over an OTLP
// exporter, configured as containerd 1.6 reads the section (tracing/plugin/otlp.go). Loaded only
// when an endpoint is set.
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { invalidArgument } from '../util/errdefs.js';

/** containerd's OTLPConfig. */
export interface OtlpConfig {
  /** http/protobuf: a URL whose scheme and host are used (the path is always /v1/traces); grpc: host:port. */
  endpoint: string;
  /** "http/protobuf" (also when empty) or "grpc". */
  protocol: string;
  /** grpc only: plaintext instead of TLS (http/protobuf takes it from the URL's scheme). */
  insecure: boolean;
}

const SECTION = 'plugins."io.containerd.tracing.processor.v1.otlp"';

/**
 * How long one export may take, retries included: under the 5 s a stopping daemon gives the
 * spans still queued, so that a collector that is down is reported before the daemon exits.
 */
const EXPORT_TIMEOUT_MS = 4000;

export async function otlpSpanProcessor(config: OtlpConfig): Promise<SpanProcessor> {
  switch (config.protocol) {
    case '':
    case 'http/protobuf': {
      const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto');
      return new BatchSpanProcessor(new OTLPTraceExporter({ url: httpTracesUrl(config.endpoint), timeoutMillis: EXPORT_TIMEOUT_MS }));
    }
    case 'grpc': {
      const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-grpc');
      // the exporter speaks plaintext to an http:// URL and TLS to https://
      return new BatchSpanProcessor(new OTLPTraceExporter({ url: `${config.insecure ? 'http' : 'https'}://${config.endpoint}`, timeoutMillis: EXPORT_TIMEOUT_MS }));
    }
    default:
      throw invalidArgument(`${SECTION}.protocol: OpenTelemetry protocol ${JSON.stringify(config.protocol)} is not supported (http/protobuf or grpc)`);
  }
}

/** containerd keeps only the endpoint URL's host, and its scheme for TLS or not. */
function httpTracesUrl(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw invalidArgument(`${SECTION}.endpoint: ${JSON.stringify(endpoint)} is not a URL (e.g. "http://127.0.0.1:4318")`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalidArgument(`${SECTION}.endpoint: ${JSON.stringify(endpoint)} must be an http:// or https:// URL for protocol http/protobuf`);
  }
  return `${url.protocol}//${url.host}/v1/traces`;
}
