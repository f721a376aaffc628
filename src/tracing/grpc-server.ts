// A server span per gRPC call, as containerd's otelgrpc interceptor makes them: named
// "<package.Service>/<Method>", kind server, with rpc.* attributes and the status code. The span is
// current while the handler runs, so the command's spans and the shim calls are its children.
// Only installed when tracing is configured.
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span, type SpanContext, type TextMapGetter, type Tracer } from '@opentelemetry/api';
import { ServerInterceptingCall, type Metadata, type ServerInterceptor } from '@grpc/grpc-js';
import { NAMESPACE_HEADER } from '../api/services.js';
import { codeName } from '../util/grpc-codes.js';
import { CallGroups, subjectOf } from './call-groups.js';

const metadataGetter: TextMapGetter<Metadata> = {
  keys: (metadata) => Object.keys(metadata.getMap()),
  get: (metadata, key) => {
    const values = metadata.get(key);
    return values.length === 0 ? undefined : values.map(String);
  },
};

export function tracingInterceptor(tracer: Tracer, groups: CallGroups<SpanContext>): ServerInterceptor {
  return (method, call) => {
    const name = method.path.slice(1);
    const slash = name.lastIndexOf('/');
    let metadata: Metadata | undefined;
    let span: Span | undefined;
    let current: Context = ROOT_CONTEXT;
    let ended = false;

    /** Starts the span once the request is known (a streamed request: once the metadata is). */
    const begin = (request?: unknown) => {
      if (span) return;
      const namespace = metadata?.get(NAMESPACE_HEADER)[0]?.toString();
      const sent = metadata ? propagation.extract(ROOT_CONTEXT, metadata, metadataGetter) : ROOT_CONTEXT;
      const subject = trace.getSpanContext(sent) ? undefined : subjectOf(method.path, namespace, request);
      const groupRoot = subject && groups.rootFor(subject);
      const parent = groupRoot ? trace.setSpanContext(ROOT_CONTEXT, groupRoot) : sent;
      span = tracer.startSpan(
        name,
        {
          kind: SpanKind.SERVER,
          attributes: {
            'rpc.system': 'grpc',
            'rpc.service': name.slice(0, slash),
            'rpc.method': name.slice(slash + 1),
            ...(namespace ? { 'containerd.namespace': namespace } : {}),
          },
        },
        parent,
      );
      // why a call without trace context is in another call's trace
      if (groupRoot) span.setAttribute('ledgerd.trace_group', subject!.key);
      current = trace.setSpan(parent, span);
      if (subject && !groupRoot) groups.open(subject, span.spanContext());
      if (subject?.closes) groups.close(subject);
    };
    const within = (work: () => void) => (span ? context.with(current, work) : work());
    const finish = (code: number, details?: string) => {
      if (ended) return;
      ended = true;
      begin();
      span!.setAttribute('rpc.grpc.status_code', code);
      if (code !== 0) span!.setStatus({ code: SpanStatusCode.ERROR, message: `${codeName(code)}: ${details ?? ''}` });
      span!.end();
    };

    return new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (received, pass) => {
            metadata = received;
            if (method.requestStream) begin();
            within(() => pass(received));
          },
          onReceiveMessage: (message, pass) => {
            begin(message);
            within(() => pass(message));
          },
          onReceiveHalfClose: (pass) => {
            begin();
            within(pass);
          },
          onCancel: () => finish(1, 'the client cancelled the call'),
        }),
      sendStatus: (status, next) => {
        finish(status.code ?? 0, status.details);
        next(status);
      },
    });
  };
}
