import { readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeClientConstructor, type Client, type MethodDefinition, type ServiceDefinition } from '@grpc/grpc-js';
import protobuf from 'protobufjs';

/**
 * The protos under <project>/proto are loaded at run time, once, when this module is first
 * imported; there is no generated code, the .proto files are the single source.
 *
 * - One protobufjs Root parsed from the files serves everything: grpc-js's service definitions
 *   (built from it as @grpc/proto-loader builds them, without parsing every file a second time
 *   and keeping a copy of the file descriptors for each type: ~20 MB of the daemon's memory at
 *   start), and message bytes (Any payloads, ttrpc payloads, shim output).
 *
 * Imports inside the protos are relative to proto/ (`import "containerd/types/mount.proto";`);
 * google/protobuf/* are protobufjs's bundled well-known types and are not in proto/.
 *
 * This file compiles to dist/src/api/proto.js, hence three levels up to the project root.
 */
export const PROTO_DIR = fileURLToPath(new URL('../../../proto/', import.meta.url));

/** What grpc-js handlers get: field names as in the .proto (`container_id`), int64 as Number, enums as their names. */
const GRPC_CONVERSION: protobuf.IConversionOptions = { longs: Number, enums: String, defaults: true, oneofs: true };

/** Every .proto under proto/, relative to it, with '/' separators, sorted. */
function protoFiles(dir: string = PROTO_DIR): string[] {
  return readdirSync(dir)
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return protoFiles(path);
      return name.endsWith('.proto') ? [relative(PROTO_DIR, path).split(sep).join('/')] : [];
    })
    .sort();
}

const WELL_KNOWN = 'google/protobuf/';

function loadRoot(files: readonly string[]): protobuf.Root {
  const root = new protobuf.Root();
  // google/protobuf/* is returned as is: protobufjs then serves it from its bundled `common` files.
  root.resolvePath = (_origin, target) => {
    if (target.startsWith(WELL_KNOWN)) return target;
    const wellKnown = target.indexOf(`/${WELL_KNOWN}`);
    if (wellKnown >= 0) return target.slice(wellKnown + 1);
    return target.startsWith(PROTO_DIR) ? target : join(PROTO_DIR, target);
  };
  root.loadSync([...files], { keepCase: true });
  root.resolveAll();
  return root;
}

const files = protoFiles();
/** The protobufjs Root holding every message, enum and service of proto/. */
export const protoRoot: protobuf.Root = loadRoot(files);
const definitions = new Map<string, ServiceDefinition>();

/** The grpc-js definition of a service by its full proto name, e.g. 'containerd.services.tasks.v1.Tasks'. */
export function serviceDefinition(fullServiceName: string): ServiceDefinition {
  let definition = definitions.get(fullServiceName);
  if (!definition) {
    const service = lookupExact(fullServiceName);
    if (!(service instanceof protobuf.Service)) throw new Error(`unknown service ${fullServiceName}`);
    definition = Object.fromEntries(service.methodsArray.map((method) => [method.name, methodDefinition(fullServiceName, method)]));
    definitions.set(fullServiceName, definition);
  }
  return definition;
}

function methodDefinition(service: string, method: protobuf.Method): MethodDefinition<object, object> {
  method.resolve();
  const request = method.resolvedRequestType!;
  const response = method.resolvedResponseType!;
  return {
    path: `/${service}/${method.name}`,
    requestStream: method.requestStream === true,
    responseStream: method.responseStream === true,
    requestSerialize: serializer(request),
    requestDeserialize: deserializer(request),
    responseSerialize: serializer(response),
    responseDeserialize: deserializer(response),
    originalName: method.name.charAt(0).toLowerCase() + method.name.slice(1),
  };
}

// protobufjs writes Buffers under Node
const encode = (type: protobuf.Type, value: object) => type.encode(type.fromObject(value)).finish() as Buffer;
const serializer = (type: protobuf.Type) => (value: object) => {
  if (!unchanging.has(value)) return encode(type, value);
  let encoded = unchanging.get(value);
  if (encoded?.type !== type) unchanging.set(value, (encoded = { type, bytes: encode(type, value) }));
  return encoded.bytes;
};

/** Messages that never change once sent, and their bytes once serialized. */
const unchanging = new WeakMap<object, { type: protobuf.Type; bytes: Buffer } | undefined>();

/**
 * Marks a message that will not change again: grpc-js serializes it once, however many streams
 * send it (an event envelope going to a hundred subscribers).
 */
export function unchangingMessage<T extends object>(message: T): T {
  if (!unchanging.has(message)) unchanging.set(message, undefined);
  return message;
}
const deserializer = (type: protobuf.Type) => (bytes: Buffer) => type.toObject(type.decode(bytes), GRPC_CONVERSION);

/** A grpc-js client constructor for a service by its full proto name. */
export function serviceClient(fullServiceName: string): typeof Client & (new (...args: never[]) => never) {
  return makeClientConstructor(serviceDefinition(fullServiceName), fullServiceName) as never;
}

/** The reflection object at exactly `fullName` (protobufjs's own lookup also searches nested namespaces). */
function lookupExact(fullName: string): protobuf.ReflectionObject | null {
  let node: protobuf.ReflectionObject | null = protoRoot;
  for (const part of fullName.split('.')) node = node instanceof protobuf.Namespace ? node.get(part) : null;
  return node;
}

const types = new Map<string, protobuf.Type>();

/** The protobufjs Type of a message by its full name (no leading dot needed); throws if unknown. */
export function messageType(fullName: string): protobuf.Type {
  const name = fullName.startsWith('.') ? fullName.slice(1) : fullName;
  let type = types.get(name);
  if (!type) {
    // an exact walk: lookupType('Info') would find some '*.Info'
    const node = lookupExact(name);
    if (!(node instanceof protobuf.Type)) throw new Error(`unknown message type ${name}`);
    type = node;
    types.set(name, type);
  }
  return type;
}

function findType(fullName: string): protobuf.Type | undefined {
  try {
    return messageType(fullName);
  } catch {
    return undefined;
  }
}

/** How decoded messages look: the same shape grpc-js hands to handlers. */
export const CONVERSION: protobuf.IConversionOptions = { longs: Number, enums: String, bytes: Buffer, defaults: true };

/** Encodes a plain object (proto field names, Numbers for 64-bit ints, enum names or numbers). */
export function encodeMessage(fullName: string, value: Record<string, unknown>): Buffer {
  const type = messageType(fullName);
  return Buffer.from(type.encode(type.fromObject(value)).finish());
}

/** Decodes message bytes to a plain object: proto field names, Numbers, enum names, Buffers, defaults filled in. */
export function decodeMessage(fullName: string, bytes: Uint8Array): Record<string, unknown> {
  const type = messageType(fullName);
  return type.toObject(type.decode(bytes), CONVERSION);
}

export interface AnyMessage {
  type_url: string;
  value: Uint8Array;
}

/**
 * The full message name an Any's type URL names: containerd writes the bare name
 * (`containerd.events.TaskExit`); the `type.googleapis.com/containerd.events.TaskExit` form
 * (or any `<prefix>/<name>`) is read as its last path segment.
 */
export function anyTypeName(typeUrl: string): string {
  return typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
}

/** containerd's Any: type_url is the bare full message name, with no type.googleapis.com/ prefix. */
export function packAny(fullName: string, value: Record<string, unknown>): AnyMessage {
  return { type_url: fullName, value: encodeMessage(fullName, value) };
}

/**
 * Decodes an Any whose type is a message of proto/; undefined when the Any is missing, names a
 * type this daemon does not know (e.g. the JSON OCI spec's `types.containerd.io/...` URL), or
 * does not decode.
 */
export function unpackAny(any: { type_url?: string; value?: Uint8Array } | null | undefined): Record<string, unknown> | undefined {
  if (!any?.type_url) return undefined;
  const type = findType(anyTypeName(any.type_url));
  if (!type) return undefined;
  try {
    return type.toObject(type.decode(any.value ?? new Uint8Array()), CONVERSION);
  } catch {
    return undefined;
  }
}

/**
 * Go's zero time.Time (0001-01-01T00:00:00Z) as a Timestamp: seconds -62135596800, nanos 0.
 *
 * containerd declares most timestamps non-nullable (gogoproto stdtime), so Go always writes
 * them, and an unset time goes on the wire as this value (e.g. `exited_at` of a running
 * process, `updated_at` of a fresh ingest). Reading, this value and an absent field both mean
 * "unset" (Go's `IsZero()`). ledgerd keeps times as nanoseconds since the epoch in bigints
 * and uses 0n / undefined for "unset", so:
 *   timestamp(undefined | null | 0n | invalid Date) → { seconds: -62135596800, nanos: 0 }
 *   fromTimestamp(absent | { seconds: -62135596800, nanos: 0 }) → undefined
 * A present { seconds: 0, nanos: 0 } is the epoch (Go reads it as a real, non-zero time) and
 * reads back as 0n.
 */
export const GO_ZERO_TIME_SECONDS = -62135596800;

export interface Timestamp {
  seconds: number;
  nanos: number;
}

const NS_PER_SECOND = 1_000_000_000n;

/** A protobuf Timestamp from nanoseconds since the epoch or a Date; unset → Go's zero time. */
export function timestamp(time: bigint | Date | null | undefined): Timestamp {
  if (time instanceof Date) {
    const ms = time.getTime();
    if (Number.isNaN(ms)) return { seconds: GO_ZERO_TIME_SECONDS, nanos: 0 };
    time = BigInt(ms) * 1_000_000n;
  }
  if (time === undefined || time === null || time === 0n) return { seconds: GO_ZERO_TIME_SECONDS, nanos: 0 };
  // Floor division: nanos must stay in [0, 1e9) for times before the epoch too.
  let seconds = time / NS_PER_SECOND;
  let nanos = time % NS_PER_SECOND;
  if (nanos < 0n) {
    seconds -= 1n;
    nanos += NS_PER_SECOND;
  }
  return { seconds: Number(seconds), nanos: Number(nanos) };
}

/** Nanoseconds since the epoch, or undefined for an absent Timestamp or Go's zero time. */
export function fromTimestamp(
  ts: { seconds?: number | string | bigint | null; nanos?: number | null } | null | undefined,
): bigint | undefined {
  if (!ts) return undefined;
  const seconds = BigInt(typeof ts.seconds === 'number' ? Math.trunc(ts.seconds) : (ts.seconds ?? 0));
  const nanos = BigInt(Math.trunc(ts.nanos ?? 0));
  if (seconds === BigInt(GO_ZERO_TIME_SECONDS) && nanos === 0n) return undefined;
  return seconds * NS_PER_SECOND + nanos;
}

/** protobuf's Timestamp range, as containerd's decoding enforces it: 0001-01-01 to 9999-12-31T23:59:59.999999999Z. */
const MAX_TIMESTAMP_SECONDS = 253402300799;

/** What is wrong with a client's Timestamp, or undefined when it is in range (absent counts as fine). */
export function timestampProblem(ts: { seconds?: number | string | bigint | null; nanos?: number | null } | null | undefined): string | undefined {
  if (!ts) return undefined;
  const seconds = Number(ts.seconds ?? 0);
  const nanos = Number(ts.nanos ?? 0);
  if (!Number.isInteger(nanos) || nanos < 0 || nanos >= 1e9) return `nanos ${nanos} not in range [0, 1e9)`;
  if (seconds < GO_ZERO_TIME_SECONDS) return `seconds ${String(ts.seconds)} before 0001-01-01`;
  if (seconds > MAX_TIMESTAMP_SECONDS) return `seconds ${String(ts.seconds)} after 9999-12-31T23:59:59Z`;
  return undefined;
}

/** The list of .proto files loaded (relative to proto/); for tests and diagnostics. */
export const protoFileList: readonly string[] = files;
