import { messageCodec } from '../proto.js';
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

const requestCodec = () => messageCodec<{ service: string; method: string; payload: Buffer; timeout_nano: number; metadata: WireKeyValue[] }>('ttrpc.Request');
const responseCodec = () => messageCodec<{ status: { code: number; message: string; details: { type_url: string; value: Buffer }[] } | null; payload: Buffer }>('ttrpc.Response');

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
