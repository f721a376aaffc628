// OTLP trace receivers of the test's own, over HTTP (POST /v1/traces, what the daemon's
// http/protobuf exporter sends) and over gRPC (TraceService.Export): each decodes the protobuf
// ExportTraceServiceRequest with protobufjs from the message shapes of opentelemetry-proto (field
// numbers as there), and keeps the spans it received.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';

const OTLP_TRACE_PROTO = `
syntax = "proto3";
package otlp;
message AnyValue {
  oneof value {
    string string_value = 1;
    bool bool_value = 2;
    int64 int_value = 3;
    double double_value = 4;
    ArrayValue array_value = 5;
    bytes bytes_value = 7;
  }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValue { string key = 1; AnyValue value = 2; }
message Resource { repeated KeyValue attributes = 1; }
message InstrumentationScope { string name = 1; string version = 2; }
message Status { string message = 2; int32 code = 3; }
message Span {
  bytes trace_id = 1;
  bytes span_id = 2;
  bytes parent_span_id = 4;
  string name = 5;
  int32 kind = 6;
  fixed64 start_time_unix_nano = 7;
  fixed64 end_time_unix_nano = 8;
  repeated KeyValue attributes = 9;
  Status status = 15;
}
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
`;

const ExportTraceServiceRequest = protobuf.parse(OTLP_TRACE_PROTO, { keepCase: true }).root.lookupType('otlp.ExportTraceServiceRequest');

/** OTLP's SpanKind: 1 internal, 2 server, 3 client. */
export const SPAN_KIND = { internal: 1, server: 2, client: 3 } as const;

export type AttributeValue = string | number | boolean | AttributeValue[];

export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  /** '' for a root span. */
  readonly parentSpanId: string;
  readonly name: string;
  readonly kind: number;
  readonly startNs: bigint;
  readonly endNs: bigint;
  readonly attributes: Record<string, AttributeValue>;
  /** 0 unset, 1 ok, 2 error. */
  readonly statusCode: number;
  readonly resource: Record<string, AttributeValue>;
}

export interface OtlpReceiver {
  /** What the daemon's config names: http://127.0.0.1:PORT, or 127.0.0.1:PORT for grpc. */
  readonly endpoint: string;
  readonly spans: ReceivedSpan[];
  /** Requests that were not a decodable ExportTraceServiceRequest on POST /v1/traces. */
  readonly rejected: string[];
}

type Decoded = { key: string; value?: Record<string, unknown> }[];

function valueOf(any: Record<string, unknown> | undefined): AttributeValue {
  if (!any) return '';
  if (any.array_value) return ((any.array_value as { values?: Record<string, unknown>[] }).values ?? []).map(valueOf);
  for (const key of ['string_value', 'bool_value', 'int_value', 'double_value'] as const) {
    if (any[key] !== undefined) return key === 'int_value' ? Number(any[key]) : (any[key] as AttributeValue);
  }
  return '';
}

const attributesOf = (list: Decoded | undefined) => Object.fromEntries((list ?? []).map(({ key, value }) => [key, valueOf(value)]));
const hex = (bytes: unknown) => Buffer.from((bytes as Uint8Array | undefined) ?? []).toString('hex');

/** The spans of a protobuf ExportTraceServiceRequest. */
export function decodeSpans(body: Uint8Array): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  const request = ExportTraceServiceRequest.toObject(ExportTraceServiceRequest.decode(body), { longs: String, defaults: false }) as {
    resource_spans?: { resource?: { attributes?: Decoded }; scope_spans?: { spans?: Record<string, unknown>[] }[] }[];
  };
  for (const resourceSpans of request.resource_spans ?? []) {
    const resource = attributesOf(resourceSpans.resource?.attributes);
    for (const scope of resourceSpans.scope_spans ?? []) {
      for (const span of scope.spans ?? []) {
        spans.push({
          traceId: hex(span.trace_id),
          spanId: hex(span.span_id),
          parentSpanId: hex(span.parent_span_id),
          name: String(span.name),
          kind: Number(span.kind ?? 0),
          startNs: BigInt(String(span.start_time_unix_nano ?? 0)),
          endNs: BigInt(String(span.end_time_unix_nano ?? 0)),
          attributes: attributesOf(span.attributes as Decoded | undefined),
          statusCode: Number((span.status as { code?: number } | undefined)?.code ?? 0),
          resource,
        });
      }
    }
  }
  return spans;
}

/** OTLP/HTTP: POST /v1/traces, application/x-protobuf. */
export async function startOtlpReceiver(t: TestContext): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const rejected: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces' || req.headers['content-type'] !== 'application/x-protobuf') {
        rejected.push(`${req.method} ${req.url} ${req.headers['content-type']}`);
        res.writeHead(404).end();
        return;
      }
      try {
        spans.push(...decodeSpans(Buffer.concat(chunks)));
        // an empty ExportTraceServiceResponse: full success
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      } catch (err) {
        rejected.push(`undecodable: ${(err as Error).message}`);
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;
  return { endpoint: `http://127.0.0.1:${port}`, spans, rejected };
}

/** OTLP/gRPC without TLS: TraceService.Export on 127.0.0.1; `endpoint` is host:port as containerd's grpc protocol takes it. */
export async function startOtlpGrpcReceiver(t: TestContext): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const rejected: string[] = [];
  const server = new grpc.Server();
  const identity = (value: Buffer) => value;
  server.addService(
    {
      Export: {
        path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
        requestStream: false,
        responseStream: false,
        requestSerialize: identity,
        requestDeserialize: identity,
        responseSerialize: identity,
        responseDeserialize: identity,
      },
    },
    {
      Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, respond: grpc.sendUnaryData<Buffer>) => {
        try {
          spans.push(...decodeSpans(call.request));
          respond(null, Buffer.alloc(0));
        } catch (err) {
          rejected.push(`undecodable: ${(err as Error).message}`);
          respond({ code: grpc.status.INVALID_ARGUMENT, details: (err as Error).message });
        }
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
  );
  t.after(() => new Promise<void>((resolve) => server.tryShutdown(() => resolve())));
  return { endpoint: `127.0.0.1:${port}`, spans, rejected };
}
