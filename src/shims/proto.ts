import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import protobuf from 'protobufjs';

/**
 * The protobuf messages the shim side needs, parsed with protobufjs from proto/ (no generated
 * code). Only the handful of files that ttrpc and shim v2 use are loaded, and only when a codec
 * is first used: a shim process must start fast, so it does not pay for the daemon's 30 files.
 * This file compiles to dist/src/shims/proto.js, hence three levels up to the project root.
 */
const PROTO_DIR = fileURLToPath(new URL('../../../proto/', import.meta.url));
const FILES = [
  'ttrpc/ttrpc.proto',
  'containerd/runtime/v2/task/shim.proto',
  'containerd/events/task.proto',
  'containerd/services/ttrpc/events/v1/events.proto',
];
const WELL_KNOWN = 'google/protobuf/';

let root: protobuf.Root | undefined;

function shimRoot(): protobuf.Root {
  if (!root) {
    const loaded = new protobuf.Root();
    // google/protobuf/* comes from protobufjs's bundled copies; everything else from proto/.
    loaded.resolvePath = (_origin, target) => {
      if (target.startsWith(WELL_KNOWN)) return target;
      return target.startsWith(PROTO_DIR) ? target : join(PROTO_DIR, target);
    };
    loaded.loadSync(FILES, { keepCase: true });
    loaded.resolveAll();
    root = loaded;
  }
  return root;
}

/** How decoded messages look: proto field names, 64-bit integers as Numbers, enum names, Buffers, defaults filled in. */
const TO_OBJECT: protobuf.IConversionOptions = { longs: Number, enums: String, bytes: Buffer, defaults: true };

export interface MessageCodec<T> {
  readonly name: string;
  encode(value: object): Uint8Array;
  decode(bytes: Uint8Array): T;
}

const codecs = new Map<string, MessageCodec<unknown>>();

/** The codec of one message of the shim protos by its full name, e.g. 'containerd.task.v2.StateRequest'. */
export function messageCodec<T = Record<string, any>>(fullName: string): MessageCodec<T> {
  let codec = codecs.get(fullName);
  if (!codec) {
    const type = shimRoot().lookupType(fullName);
    codec = {
      name: fullName,
      encode: (value) => type.encode(type.fromObject(value as Record<string, unknown>)).finish(),
      decode: (bytes) => type.toObject(type.decode(bytes), TO_OBJECT),
    };
    codecs.set(fullName, codec);
  }
  return codec as MessageCodec<T>;
}

/** google.protobuf.Empty on the wire. */
export const EMPTY = new Uint8Array(0);

/** A protobuf Any as protobufjs reads and writes it (proto field names). */
export interface ProtoAny {
  type_url: string;
  value: Uint8Array;
}

export const toProtoAny = (any: { typeUrl: string; value: Uint8Array } | undefined): ProtoAny | undefined =>
  any ? { type_url: any.typeUrl, value: any.value } : undefined;

export const fromProtoAny = (any: { type_url?: string; value?: Uint8Array } | null | undefined): { typeUrl: string; value: Uint8Array } | undefined =>
  any?.type_url ? { typeUrl: any.type_url, value: any.value ?? EMPTY } : undefined;

/** Go's zero time.Time (year 1), which containerd writes for "no time" (a running process's exited_at). */
const GO_ZERO_SECONDS = -62135596800;
const NS = 1_000_000_000n;

/** Nanoseconds since the epoch from a Timestamp; absent and Go's zero time both read as 0n. */
export function nanosFromTimestamp(ts: { seconds?: number | null; nanos?: number | null } | null | undefined): bigint {
  if (!ts || (ts.seconds === GO_ZERO_SECONDS && !ts.nanos)) return 0n;
  return BigInt(Math.trunc(ts.seconds ?? 0)) * NS + BigInt(Math.trunc(ts.nanos ?? 0));
}

/** A Timestamp from nanoseconds since the epoch; 0n becomes Go's zero time, as a Go shim would write it. */
export function timestampFromNanos(time: bigint): { seconds: number; nanos: number } {
  if (time === 0n) return { seconds: GO_ZERO_SECONDS, nanos: 0 };
  const nanos = ((time % NS) + NS) % NS;
  return { seconds: Number((time - nanos) / NS), nanos: Number(nanos) };
}

/** Now, in nanoseconds since the epoch. */
export const nowNanos = (): bigint => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n;
