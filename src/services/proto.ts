import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPackageDefinition, type GrpcObject, type ServiceDefinition } from '@grpc/grpc-js';
import { fromJSON, type Options } from '@grpc/proto-loader';
import protobuf from 'protobufjs';

/**
 * The protos under proto/ are loaded at run time, once: protobufjs parses them into one Root,
 * which serves both grpc-js (through proto-loader's definitions) and the encoding of event
 * payloads packed into Any. No generated code: the .proto files are the single source.
 */
export const PROTO_DIR = fileURLToPath(new URL('../../../proto/', import.meta.url));

const LOADER_OPTIONS: Options = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true };

function protoFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return protoFiles(path);
    return name.endsWith('.proto') ? [relative(PROTO_DIR, path)] : [];
  });
}

function loadRoot(): protobuf.Root {
  const root = new protobuf.Root();
  // imports are relative to proto/; google/protobuf/* come with protobufjs
  root.resolvePath = (_origin, target) => (target.startsWith('google/protobuf/') ? target : join(PROTO_DIR, target));
  root.loadSync(protoFiles(PROTO_DIR), { keepCase: true });
  root.resolveAll();
  return root;
}

const root = loadRoot();
const packageDefinition = fromJSON(root.toJSON(), LOADER_OPTIONS);
export const grpcPackage: GrpcObject = loadPackageDefinition(packageDefinition);

/** The grpc-js definition of a service by its full proto name. */
export function serviceDefinition(fullName: string): ServiceDefinition {
  const definition = packageDefinition[fullName];
  if (!definition || 'format' in definition) throw new Error(`unknown service ${fullName}`);
  return definition as unknown as ServiceDefinition;
}

/** A client constructor for a service by its full proto name. */
export function serviceClient(fullName: string): typeof import('@grpc/grpc-js').Client & (new (...args: never[]) => never) {
  let node: unknown = grpcPackage;
  for (const part of fullName.split('.')) node = (node as Record<string, unknown>)[part];
  if (typeof node !== 'function') throw new Error(`unknown service ${fullName}`);
  return node as never;
}

export function messageType(fullName: string): protobuf.Type {
  return root.lookupType(fullName);
}

const CONVERSION: protobuf.IConversionOptions = { longs: Number, enums: String, bytes: Buffer, defaults: true };

export function encodeMessage(fullName: string, value: Record<string, unknown>): Buffer {
  const type = messageType(fullName);
  return Buffer.from(type.encode(type.fromObject(value)).finish());
}

export function decodeMessage(fullName: string, bytes: Uint8Array): Record<string, unknown> {
  const type = messageType(fullName);
  return type.toObject(type.decode(bytes), CONVERSION);
}

export interface AnyMessage {
  type_url: string;
  value: Uint8Array;
}

/** containerd's Any: the type URL is the bare full message name, no type.googleapis.com/ prefix. */
export function packAny(fullName: string, value: Record<string, unknown>): AnyMessage {
  return { type_url: fullName, value: encodeMessage(fullName, value) };
}

/** Decodes an Any whose type is one of ours; undefined for types this daemon does not know. */
export function unpackAny(any: { type_url?: string; value?: Uint8Array } | undefined): Record<string, unknown> | undefined {
  if (!any?.type_url) return undefined;
  const name = any.type_url.replace(/^.*\//, '');
  let type: protobuf.Type;
  try {
    type = root.lookupType(name);
  } catch {
    return undefined;
  }
  try {
    return type.toObject(type.decode(any.value ?? new Uint8Array()), CONVERSION);
  } catch {
    return undefined;
  }
}

/**
 * Go writes an unset non-nullable time as year 1 (seconds -62135596800); it and an absent
 * field both mean "unset".
 */
export const GO_ZERO_TIME_SECONDS = -62135596800;

export interface Timestamp {
  seconds: number;
  nanos: number;
}

export function timestamp(ns: bigint | undefined): Timestamp {
  if (ns === undefined || ns === 0n) return { seconds: GO_ZERO_TIME_SECONDS, nanos: 0 };
  return { seconds: Number(ns / 1_000_000_000n), nanos: Number(ns % 1_000_000_000n) };
}

/** Nanoseconds since the epoch, or undefined for an unset time. */
export function fromTimestamp(ts: { seconds?: number | string; nanos?: number } | null | undefined): bigint | undefined {
  if (!ts) return undefined;
  const seconds = Number(ts.seconds ?? 0);
  const nanos = Number(ts.nanos ?? 0);
  if ((seconds === 0 && nanos === 0) || seconds === GO_ZERO_TIME_SECONDS) return undefined;
  return BigInt(seconds) * 1_000_000_000n + BigInt(nanos);
}
