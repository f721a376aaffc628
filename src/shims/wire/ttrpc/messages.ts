import { Any, decode, encode, message } from '../protocol/protowire.js';
import type { Status } from './status.js';

/** ttrpc metadata: lower-cased keys, each with one or more values (ttrpc.MD). */
export type Metadata = ReadonlyMap<string, readonly string[]>;

/** What callers pass: a value or several per key; keys are lower-cased on the way out. */
export type MetadataInit = Readonly<Record<string, string | readonly string[]>>;

/** The metadata key that carries the containerd namespace of a call. */
export const NAMESPACE_METADATA_KEY = 'containerd-namespace-ttrpc';

export interface RequestMessage {
  readonly service: string;
  readonly method: string;
  readonly payload: Uint8Array;
  /** > 0: the caller's deadline, in nanoseconds from when it sent the request. */
  readonly timeoutNano: number;
  readonly metadata: Metadata;
}

export interface ResponseMessage {
  /** Absent (or code 0) on success. */
  readonly status?: Status;
  readonly payload: Uint8Array;
}

interface WireKeyValue {
  key: string;
  value: string;
}

// ttrpc.proto and google/rpc/status.proto, hand-described: every call of a shim goes through
// these two, and parsing the .proto files with protobufjs would cost a shim ~50 ms and ~4 MiB.
const KeyValue = message('ttrpc.KeyValue', [1, 'key', 'string'], [2, 'value', 'string']);
const Request = message('ttrpc.Request', [1, 'service', 'string'], [2, 'method', 'string'], [3, 'payload', 'bytes'], [4, 'timeout_nano', 'int64'], [5, 'metadata', KeyValue, 'repeated']);
const RpcStatus = message('google.rpc.Status', [1, 'code', 'int32'], [2, 'message', 'string'], [3, 'details', Any, 'repeated']);
const Response = message('ttrpc.Response', [1, 'status', RpcStatus], [2, 'payload', 'bytes']);

const requestCodec = () => ({
  encode: (value: object) => encode(Request, value as Record<string, unknown>),
  decode: (bytes: Uint8Array) => decode<{ service: string; method: string; payload: Uint8Array; timeout_nano: number; metadata: WireKeyValue[] }>(Request, bytes),
});
const responseCodec = () => ({
  encode: (value: object) => encode(Response, value as Record<string, unknown>),
  decode: (bytes: Uint8Array) => decode<{ status: { code: number; message: string; details: { type_url: string; value: Uint8Array }[] } | undefined; payload: Uint8Array }>(Response, bytes),
});

export function encodeRequest(request: RequestMessage): Uint8Array {
  const metadata: WireKeyValue[] = [];
  for (const [key, values] of request.metadata) for (const value of values) metadata.push({ key, value });
  return requestCodec().encode({
    service: request.service,
    method: request.method,
    payload: request.payload,
    timeout_nano: request.timeoutNano,
    metadata,
  });
}

export function decodeRequest(bytes: Uint8Array): RequestMessage {
  const wire = requestCodec().decode(bytes);
  const metadata = new Map<string, string[]>();
  // As ttrpc's MD.fromRequest: keys as sent, values appended in order.
  for (const { key, value } of wire.metadata) metadata.set(key, [...(metadata.get(key) ?? []), value]);
  return { service: wire.service, method: wire.method, payload: wire.payload, timeoutNano: wire.timeout_nano, metadata };
}

export function encodeResponse(response: ResponseMessage): Uint8Array {
  const status = response.status && response.status.code !== 0 ? response.status : undefined;
  return responseCodec().encode({ status, payload: response.payload });
}

export function decodeResponse(bytes: Uint8Array): ResponseMessage {
  const wire = responseCodec().decode(bytes);
  return { status: wire.status ?? undefined, payload: wire.payload };
}

/** Metadata from what a caller gave, keys lower-cased (ttrpc.MD.Set). */
export function toMetadata(init: MetadataInit | undefined): Metadata {
  const metadata = new Map<string, string[]>();
  for (const [key, value] of Object.entries(init ?? {})) {
    const lower = key.toLowerCase();
    metadata.set(lower, [...(metadata.get(lower) ?? []), ...(typeof value === 'string' ? [value] : value)]);
  }
  return metadata;
}

/** The first value of a key (ttrpc.GetMetadataValue), case-insensitively. */
export const metadataValue = (metadata: Metadata, key: string): string | undefined => metadata.get(key.toLowerCase())?.[0];
