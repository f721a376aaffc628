import { crc32 } from 'node:zlib';
import { Packr } from 'msgpackr';
import { CorruptLogError, UnencodableEventError } from './errors.js';
import type { LogRecord, RecordMeta } from './record.js';

/**
 * Record encoding on disk (all integers little-endian):
 *
 *   0  u8  format (1)            12 f64 seq
 *   1  u8  reserved              20 f64 time, whole milliseconds since the epoch
 *   2  u16 namespace length      28 u32 time, nanoseconds within the millisecond
 *   4  u16 stream length         32 u32 stream version
 *   6  u16 type length           36 u16 payload schema
 *   8  u32 payload length        38 namespace, stream, type (UTF-8), payload, meta (msgpack)
 *   .. u32 CRC-32 of everything before it
 *
 * The header is fixed binary rather than msgpack because replay reads every header and most
 * projections nothing else: payload and meta are decoded only when read. The CRC is stored
 * little-endian, so the CRC of a whole record is the constant CRC-32 residue and a record is
 * checked in place. LMDB has no page checksums: this is what lets verify and start-up tell a
 * damaged record from a valid one. Decoding works on LMDB's shared read buffer (lmdb-js hands a
 * custom decoder its own buffer, not a copy), so a replay allocates no buffer per record.
 */
// int64AsType 'auto': integers beyond 2^53 come back as bigint, the rest as numbers;
// useBigIntExtension: a bigint beyond 64 bits (a time in the year 9999 in nanoseconds) is stored
// as msgpackr's bigint extension instead of making the encoder throw.
// variableMapSize: an object of more than 65,535 keys (a read model's stream versions after that
// many containers) is written as a map32; without it msgpackr refuses it and the checkpoint fails.
const packr = new Packr({
  useRecords: false,
  int64AsType: 'auto',
  mapsAsObjects: true,
  useBigIntExtension: true,
  variableMapSize: true,
} as unknown as ConstructorParameters<typeof Packr>[0]);
const FORMAT = 1;
const HEADER = 38;
const CRC_RESIDUE = 0x2144df1c;

/** The parts of a record that depend only on the event: encoded (and checked) before a seq is given. */
export interface EncodedEvent {
  readonly namespace: Buffer;
  readonly stream: Buffer;
  readonly type: Buffer;
  readonly payload: Buffer;
  readonly meta: Buffer;
}

const MAX_NAME_BYTES = 0xffff;
/** LMDB's key size limit (lmdb-js's default build): the stream index is keyed by namespace/stream. */
export const MAX_STREAM_KEY_BYTES = 1978;

/**
 * Encodes what a record holds besides its position, or throws UnencodableEventError: a name
 * longer than its 16-bit length field, a schema outside 1..65535, a payload or meta msgpack
 * cannot represent (a cycle, a value of no msgpack type).
 */
export function encodeEvent(event: Pick<LogRecord, 'namespace' | 'stream' | 'type' | 'schema' | 'payload' | 'meta'>): EncodedEvent {
  const names = { namespace: Buffer.from(event.namespace), stream: Buffer.from(event.stream), type: Buffer.from(event.type) };
  for (const [field, bytes] of Object.entries(names)) {
    if (bytes.length > MAX_NAME_BYTES) throw new UnencodableEventError(`${field} is ${bytes.length} bytes long, at most ${MAX_NAME_BYTES} fit a record`);
  }
  const streamKeyBytes = names.namespace.length + 1 + names.stream.length;
  if (streamKeyBytes > MAX_STREAM_KEY_BYTES) {
    throw new UnencodableEventError(`namespace and stream take ${streamKeyBytes} bytes, at most ${MAX_STREAM_KEY_BYTES} fit LMDB's stream index`);
  }
  if (!Number.isInteger(event.schema) || event.schema < 1 || event.schema > 0xffff) {
    throw new UnencodableEventError(`schema ${String(event.schema)} is not an integer in 1..65535`);
  }
  return { ...names, payload: packed('payload', event.payload), meta: packed('meta', event.meta) };
}

function packed(field: string, value: unknown): Buffer {
  try {
    return packr.pack(value);
  } catch (err) {
    throw new UnencodableEventError(`${field} cannot be encoded: ${(err as Error).message}`);
  }
}

export function encodeRecord(record: LogRecord, event: EncodedEvent = encodeEvent(record)): Buffer {
  const { namespace, stream, type, payload, meta } = event;
  const size = HEADER + namespace.length + stream.length + type.length + payload.length + meta.length + 4;
  const out = Buffer.alloc(size);
  out.writeUInt8(FORMAT, 0);
  out.writeUInt16LE(namespace.length, 2);
  out.writeUInt16LE(stream.length, 4);
  out.writeUInt16LE(type.length, 6);
  out.writeUInt32LE(payload.length, 8);
  out.writeDoubleLE(record.seq, 12);
  out.writeDoubleLE(Number(record.time / 1_000_000n), 20);
  out.writeUInt32LE(Number(record.time % 1_000_000n), 28);
  out.writeUInt32LE(record.version, 32);
  out.writeUInt16LE(record.schema, 36);
  let at = HEADER;
  for (const part of [namespace, stream, type, payload, meta]) at += part.copy(out, at);
  out.writeUInt32LE(crc32(out.subarray(0, at)), at);
  return out;
}

/**
 * Buffer#utf8Slice: Node's own fast path behind toString('utf8'), without its argument checks
 * (which cost a third of a replay's header decoding; lmdb-js relies on it too).
 */
const utf8 = (bytes: Buffer, start: number, end: number): string =>
  (bytes as Buffer & { utf8Slice(start: number, end: number): string }).utf8Slice(start, end);

/** What decoding found instead of a record; the reader turns it into a CorruptLogError with the seq. */
export class Damage {
  constructor(readonly reason: string) {}
}

/** Decodes the first `size` bytes of `bytes` (which may be a larger shared buffer). */
export function decodeRecord(bytes: Buffer, size: number = bytes.length): LogRecord | Damage {
  if (size < HEADER + 4) return new Damage(`is ${size} bytes long`);
  if (crc32(new Uint8Array(bytes.buffer, bytes.byteOffset, size)) !== CRC_RESIDUE) return new Damage('fails its checksum');
  if (bytes[0] !== FORMAT) return new Damage(`has unknown format ${bytes[0]}`);
  const namespaceEnd = HEADER + bytes.readUInt16LE(2);
  const streamEnd = namespaceEnd + bytes.readUInt16LE(4);
  const typeEnd = streamEnd + bytes.readUInt16LE(6);
  const body = copyToSlab(bytes, typeEnd, size - 4);
  return new StoredRecord(
    bytes.readDoubleLE(12),
    bytes.readDoubleLE(20),
    bytes.readUInt32LE(28),
    utf8(bytes, HEADER, namespaceEnd),
    utf8(bytes, namespaceEnd, streamEnd),
    utf8(bytes, streamEnd, typeEnd),
    bytes.readUInt32LE(32),
    bytes.readUInt16LE(36),
    body.slab,
    body.start,
    body.start + bytes.readUInt32LE(8),
    body.end,
  );
}

/**
 * Payload and meta bytes are copied out of LMDB's shared buffer into slabs of many records, so a
 * replay neither allocates a buffer per record nor decodes payloads nobody reads.
 */
const SLAB_SIZE = 64 * 1024;
let slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
let slabUsed = 0;

function copyToSlab(bytes: Buffer, start: number, end: number): { slab: Buffer; start: number; end: number } {
  const length = end - start;
  if (length > SLAB_SIZE / 4) return { slab: Buffer.from(bytes.subarray(start, end)), start: 0, end: length };
  if (slabUsed + length > SLAB_SIZE) {
    slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
    slabUsed = 0;
  }
  bytes.copy(slab, slabUsed, start, end);
  const at = slabUsed;
  slabUsed += length;
  return { slab, start: at, end: at + length };
}

const NOT_DECODED = Symbol('not decoded');

/** A decoded record whose payload and meta are decoded on first access. */
class StoredRecord implements LogRecord {
  // ES private fields: invisible to spreads and JSON, so a record copies as its public fields.
  #millis: number;
  #nanos: number;
  #time: bigint | undefined;
  #slab: Buffer;
  #payloadStart: number;
  #payloadEnd: number;
  #metaEnd: number;
  #payload: unknown = NOT_DECODED;
  #meta: unknown = NOT_DECODED;

  constructor(
    readonly seq: number,
    millis: number,
    nanos: number,
    readonly namespace: string,
    readonly stream: string,
    readonly type: string,
    readonly version: number,
    readonly schema: number,
    slab: Buffer,
    payloadStart: number,
    payloadEnd: number,
    metaEnd: number,
  ) {
    this.#millis = millis;
    this.#nanos = nanos;
    this.#slab = slab;
    this.#payloadStart = payloadStart;
    this.#payloadEnd = payloadEnd;
    this.#metaEnd = metaEnd;
  }

  get time(): bigint {
    this.#time ??= BigInt(this.#millis) * 1_000_000n + BigInt(this.#nanos);
    return this.#time;
  }

  get payload(): unknown {
    if (this.#payload === NOT_DECODED) this.#payload = packr.unpack(this.#slab, { start: this.#payloadStart, end: this.#payloadEnd });
    return this.#payload;
  }

  get meta(): RecordMeta {
    if (this.#meta === NOT_DECODED) this.#meta = packr.unpack(this.#slab, { start: this.#payloadEnd, end: this.#metaEnd }) ?? {};
    return this.#meta as RecordMeta;
  }

  toJSON() {
    const { seq, time, namespace, stream, version, type, schema, payload, meta } = this;
    return { seq, time, namespace, stream, version, type, schema, payload, meta };
  }
}

/** lmdb-js encoder for the records database: records go in pre-encoded, come out decoded. */
export const recordEncoder = {
  needsStableBuffer: false,
  encode: (encoded: Buffer) => encoded,
  decode: (bytes: Buffer, size?: number) => decodeRecord(bytes, size ?? bytes.length),
};

/** Checkpoints and other blobs kept beside the records use the same msgpack settings. */
export function encodeValue(value: unknown): Buffer {
  return packr.pack(value);
}

export function decodeValue<T>(bytes: Uint8Array): T {
  return packr.unpack(bytes) as T;
}
