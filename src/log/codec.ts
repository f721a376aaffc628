import { crc32 } from 'node:zlib';
import { Packr } from 'msgpackr';
import { CorruptLogError } from './errors.js';
import type { LogRecord } from './record.js';

/**
 * Record encoding on disk: a 4-byte CRC-32 of the body, then the body, a msgpack array
 * [seq, time, namespace, stream, version, type, schema, payload, meta]. The checksum is what lets
 * verify and start-up tell a damaged record from a valid one: LMDB itself has no page checksums.
 */
// int64AsType 'auto': numbers beyond 2^53 (nanosecond times) come back as bigint, the rest as numbers.
const packr = new Packr({ useRecords: false, int64AsType: 'auto', mapsAsObjects: true } as unknown as ConstructorParameters<typeof Packr>[0]);

export function encodeRecord(record: LogRecord): Buffer {
  const body = packr.pack([
    record.seq,
    record.time,
    record.namespace,
    record.stream,
    record.version,
    record.type,
    record.schema,
    record.payload,
    record.meta,
  ]);
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeUInt32BE(crc32(body), 0);
  body.copy(out, 4);
  return out;
}

export function decodeRecord(bytes: Uint8Array, expectedSeq: number): LogRecord {
  if (bytes.length < 5) throw new CorruptLogError(`record ${expectedSeq} is ${bytes.length} bytes long`);
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const body = buf.subarray(4);
  if (buf.readUInt32BE(0) !== crc32(body)) throw new CorruptLogError(`record ${expectedSeq} fails its checksum`);
  let fields: unknown[];
  try {
    fields = packr.unpack(body) as unknown[];
  } catch (err) {
    throw new CorruptLogError(`record ${expectedSeq} does not decode: ${(err as Error).message}`);
  }
  const [seq, time, namespace, stream, version, type, schema, payload, meta] = fields;
  if (seq !== expectedSeq) throw new CorruptLogError(`record stored under ${expectedSeq} says it is ${String(seq)}`);
  return {
    seq,
    time: BigInt(time as number | bigint),
    namespace: namespace as string,
    stream: stream as string,
    version: version as number,
    type: type as string,
    schema: schema as number,
    payload,
    meta: (meta ?? {}) as LogRecord['meta'],
  };
}

/** Checkpoints and other blobs kept beside the records use the same msgpack settings. */
export function encodeValue(value: unknown): Buffer {
  return packr.pack(value);
}

export function decodeValue<T>(bytes: Uint8Array): T {
  return packr.unpack(bytes) as T;
}
