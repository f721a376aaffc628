// A small table-driven protobuf (proto3) codec for the few messages a shim exchanges. The shim
// process must start fast: parsing .proto files with protobufjs costs ~50 ms at every start,
// this costs nothing. Messages are described once (field number, name, type) and encoded from /
// decoded to plain objects keyed by the proto field names.
//
// Scalars: 32-bit integers and enums are numbers; 64-bit integers are numbers when they fit in
// 2^53 (every value a shim handles does), bigint otherwise on decode and either on encode.
// Proto3 defaults (0, '', false, empty bytes, empty repeated) are not written.

export type Scalar = 'string' | 'bytes' | 'bool' | 'uint32' | 'int32' | 'uint64' | 'int64' | 'enum';

export interface MessageType {
  readonly name: string;
  readonly fields: readonly Field[];
}

export interface Field {
  readonly no: number;
  readonly name: string;
  readonly type: Scalar | MessageType;
  readonly repeated?: boolean;
  /** map<string, string>: a repeated entry message {key = 1, value = 2}, held as a Record. */
  readonly map?: boolean;
}

export type Message = Record<string, unknown>;

/** Shorthand to describe a message: message('Name', [1, 'id', 'string'], [2, 'rootfs', Mount, 'repeated']). */
export function message(name: string, ...fields: [number, string, Scalar | MessageType, ('repeated' | 'map')?][]): MessageType {
  return {
    name,
    fields: fields.map(([no, fieldName, type, kind]) => ({ no, name: fieldName, type, repeated: kind === 'repeated', map: kind === 'map' })),
  };
}

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

class Writer {
  private buf = Buffer.allocUnsafe(64);
  private pos = 0;

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  varint(value: number | bigint): void {
    this.ensure(10);
    if (typeof value === 'number' && value >= 0 && value <= 0x7fffffff) {
      let v = value;
      while (v > 0x7f) {
        this.buf[this.pos++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      this.buf[this.pos++] = v;
      return;
    }
    // negative numbers are sign-extended to 64 bits, as protobuf does for int32/int64
    let v = BigInt.asUintN(64, BigInt(value));
    while (v > 0x7fn) {
      this.buf[this.pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.pos++] = Number(v);
  }

  tag(no: number, wire: number): void {
    this.varint(no * 8 + wire);
  }

  bytes(data: Uint8Array): void {
    this.varint(data.length);
    this.ensure(data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

function isDefault(type: Scalar | MessageType, value: unknown): boolean {
  if (value === undefined || value === null) return true;
  if (typeof type !== 'string') return false;
  switch (type) {
    case 'string':
      return value === '';
    case 'bytes':
      return (value as Uint8Array).length === 0;
    case 'bool':
      return value === false;
    default:
      return value === 0 || value === 0n;
  }
}

function writeValue(w: Writer, no: number, type: Scalar | MessageType, value: unknown): void {
  if (typeof type !== 'string') {
    w.tag(no, WIRE_LEN);
    w.bytes(encode(type, value as Message));
    return;
  }
  switch (type) {
    case 'string':
      w.tag(no, WIRE_LEN);
      w.bytes(Buffer.from(value as string, 'utf8'));
      return;
    case 'bytes':
      w.tag(no, WIRE_LEN);
      w.bytes(value as Uint8Array);
      return;
    case 'bool':
      w.tag(no, WIRE_VARINT);
      w.varint(value ? 1 : 0);
      return;
    default:
      w.tag(no, WIRE_VARINT);
      w.varint(value as number | bigint);
  }
}

export function encode(type: MessageType, msg: Message): Buffer {
  const w = new Writer();
  for (const field of type.fields) {
    const value = msg[field.name];
    if (value === undefined || value === null) continue;
    if (field.map) {
      for (const [key, val] of Object.entries(value as Record<string, string>)) {
        w.tag(field.no, WIRE_LEN);
        w.bytes(encode(MAP_ENTRY, { key, value: val }));
      }
    } else if (field.repeated) {
      const list = value as unknown[];
      if (list.length === 0) continue;
      if (typeof field.type === 'string' && field.type !== 'string' && field.type !== 'bytes') {
        // packed, as proto3 writes repeated scalars
        const inner = new Writer();
        for (const item of list) inner.varint(field.type === 'bool' ? (item ? 1 : 0) : (item as number | bigint));
        w.tag(field.no, WIRE_LEN);
        w.bytes(inner.finish());
      } else {
        for (const item of list) writeValue(w, field.no, field.type, item);
      }
    } else if (!isDefault(field.type, value)) {
      writeValue(w, field.no, field.type, value);
    }
  }
  return w.finish();
}

const MAP_ENTRY = message('MapEntry', [1, 'key', 'string'], [2, 'value', 'string']);

class Reader {
  pos = 0;
  constructor(readonly buf: Uint8Array, readonly typeName: string) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  varint(): bigint | number {
    let result = 0;
    let shift = 0;
    // fast path: up to 4 bytes fit exactly in a double
    while (shift < 28) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return result;
      shift += 7;
    }
    let big = BigInt(result);
    let bigShift = 28n;
    for (;;) {
      const b = this.byte();
      big |= BigInt(b & 0x7f) << bigShift;
      if (b < 0x80) break;
      bigShift += 7n;
      if (bigShift > 63n) throw new Error(`${this.typeName}: varint too long`);
    }
    big = BigInt.asUintN(64, big);
    return big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
  }

  byte(): number {
    if (this.pos >= this.buf.length) throw new Error(`${this.typeName}: truncated message`);
    return this.buf[this.pos++]!;
  }

  lengthDelimited(): Uint8Array {
    const len = Number(this.varint());
    if (this.pos + len > this.buf.length) throw new Error(`${this.typeName}: truncated field`);
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  skip(wire: number): void {
    switch (wire) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_I64:
        this.pos += 8;
        return;
      case WIRE_LEN:
        this.lengthDelimited();
        return;
      case WIRE_I32:
        this.pos += 4;
        return;
      default:
        throw new Error(`${this.typeName}: unsupported wire type ${wire}`);
    }
  }
}

function scalarFromVarint(type: Scalar, raw: number | bigint): unknown {
  switch (type) {
    case 'bool':
      return raw !== 0;
    case 'int32':
    case 'enum':
      return Number(BigInt.asIntN(32, BigInt(raw)));
    case 'uint32':
      return Number(BigInt.asUintN(32, BigInt(raw)));
    case 'int64': {
      const v = BigInt.asIntN(64, BigInt(raw));
      return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
    }
    default:
      return raw;
  }
}

function defaults(type: MessageType): Message {
  const msg: Message = {};
  for (const field of type.fields) {
    if (field.map) msg[field.name] = {};
    else if (field.repeated) msg[field.name] = [];
    else if (typeof field.type !== 'string') msg[field.name] = undefined;
    else if (field.type === 'string') msg[field.name] = '';
    else if (field.type === 'bytes') msg[field.name] = new Uint8Array(0);
    else if (field.type === 'bool') msg[field.name] = false;
    else msg[field.name] = 0;
  }
  return msg;
}

/** Decodes `data` as `type`; absent fields get their proto3 defaults (sub-messages: undefined). Throws on malformed input. */
export function decode<T = Message>(type: MessageType, data: Uint8Array): T {
  const msg = defaults(type);
  const byNumber = new Map(type.fields.map((f) => [f.no, f]));
  const r = new Reader(data, type.name);
  while (!r.done) {
    const key = Number(r.varint());
    const no = Math.floor(key / 8);
    const wire = key & 7;
    const field = byNumber.get(no);
    if (!field) {
      r.skip(wire);
      continue;
    }
    if (field.map) {
      const entry = decode<{ key: string; value: string }>(MAP_ENTRY, r.lengthDelimited());
      (msg[field.name] as Record<string, string>)[entry.key] = entry.value;
      continue;
    }
    const type = field.type;
    let values: unknown[];
    if (typeof type !== 'string') {
      if (wire !== WIRE_LEN) throw new Error(`${r.typeName}.${field.name}: wrong wire type ${wire}`);
      values = [decode(type, r.lengthDelimited())];
    } else if (type === 'string' || type === 'bytes') {
      if (wire !== WIRE_LEN) throw new Error(`${r.typeName}.${field.name}: wrong wire type ${wire}`);
      const raw = r.lengthDelimited();
      values = [type === 'string' ? Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8') : Uint8Array.from(raw)];
    } else if (wire === WIRE_LEN) {
      const packed = new Reader(r.lengthDelimited(), r.typeName);
      values = [];
      while (!packed.done) values.push(scalarFromVarint(type, packed.varint()));
    } else if (wire === WIRE_VARINT) {
      values = [scalarFromVarint(type, r.varint())];
    } else {
      throw new Error(`${r.typeName}.${field.name}: wrong wire type ${wire}`);
    }
    if (field.repeated) (msg[field.name] as unknown[]).push(...values);
    else msg[field.name] = values[values.length - 1];
  }
  return msg as T;
}

// Well-known types.

export const Any = message('google.protobuf.Any', [1, 'type_url', 'string'], [2, 'value', 'bytes']);
export const Timestamp = message('google.protobuf.Timestamp', [1, 'seconds', 'int64'], [2, 'nanos', 'int32']);
export const Empty = message('google.protobuf.Empty');

export interface AnyValue {
  type_url: string;
  value: Uint8Array;
}

export interface TimestampValue {
  seconds: number;
  nanos: number;
}

/** A Timestamp from nanoseconds since the epoch; 0n gives undefined (proto's "not set", Go's zero time). */
export function timestampFromNs(ns: bigint): TimestampValue | undefined {
  if (ns === 0n) return undefined;
  return { seconds: Number(ns / 1_000_000_000n), nanos: Number(ns % 1_000_000_000n) };
}

/** Go's zero time.Time (year 1), which a Go shim writes for "no time" (a running process's exited_at). */
const GO_ZERO_TIME_SECONDS = -62135596800;

/** Nanoseconds since the epoch; absent and Go's zero time are both 0n ("not set"). */
export function nsFromTimestamp(ts: TimestampValue | undefined): bigint {
  if (!ts || (ts.seconds === GO_ZERO_TIME_SECONDS && !ts.nanos)) return 0n;
  return BigInt(ts.seconds) * 1_000_000_000n + BigInt(ts.nanos);
}

/** Wraps an encoded message into an Any with `type_url` = the message's full name (containerd's typeurl for gogo types). */
export function packAny(type: MessageType, msg: Message, typeUrl = type.name): AnyValue {
  return { type_url: typeUrl, value: encode(type, msg) };
}
