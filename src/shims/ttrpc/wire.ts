// The few protobuf messages ttrpc itself carries (ttrpc/request.proto, google.rpc.Status),
// encoded by hand: the shim process must not pay for a protobuf runtime to speak ttrpc.
// Payloads stay bytes; each caller encodes its own messages.

export interface Request {
  service: string;
  method: string;
  payload: Uint8Array;
  /** > 0n: the caller's deadline, in nanoseconds from now. */
  timeoutNano: bigint;
  metadata: { key: string; value: string }[];
}

export interface Status {
  code: number;
  message: string;
}

export interface Response {
  status?: Status;
  payload: Uint8Array;
}

class Writer {
  private readonly parts: Buffer[] = [];

  varint(value: bigint | number): this {
    let v = BigInt.asUintN(64, BigInt(value));
    const bytes: number[] = [];
    while (v > 0x7fn) {
      bytes.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    bytes.push(Number(v));
    this.parts.push(Buffer.from(bytes));
    return this;
  }

  bytesField(no: number, data: Uint8Array): this {
    if (data.length === 0) return this;
    return this.varint((no << 3) | 2).varint(data.length).raw(data);
  }

  stringField(no: number, value: string): this {
    return this.bytesField(no, Buffer.from(value, 'utf8'));
  }

  varintField(no: number, value: bigint | number): this {
    if (BigInt(value) === 0n) return this;
    return this.varint(no << 3).varint(value);
  }

  raw(data: Uint8Array): this {
    this.parts.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    return this;
  }

  finish(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** Field number -> values (varints as bigint, length-delimited as Buffer); unknown wire types refused. */
function fields(data: Uint8Array): Map<number, (bigint | Buffer)[]> {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const out = new Map<number, (bigint | Buffer)[]>();
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (pos >= buf.length || shift > 63n) throw new Error('truncated varint');
      const byte = buf[pos++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return result;
    }
  };
  while (pos < buf.length) {
    const key = Number(varint());
    const no = key >>> 3;
    let value: bigint | Buffer;
    switch (key & 7) {
      case 0:
        value = varint();
        break;
      case 2: {
        const length = Number(varint());
        if (pos + length > buf.length) throw new Error('truncated field');
        value = buf.subarray(pos, pos + length);
        pos += length;
        break;
      }
      case 1:
        value = buf.readBigUInt64LE(pos);
        pos += 8;
        break;
      case 5:
        value = BigInt(buf.readUInt32LE(pos));
        pos += 4;
        break;
      default:
        throw new Error(`unsupported wire type ${key & 7}`);
    }
    const list = out.get(no) ?? [];
    list.push(value);
    out.set(no, list);
  }
  return out;
}

const str = (v: bigint | Buffer | undefined) => (Buffer.isBuffer(v) ? v.toString('utf8') : '');
const buf = (v: bigint | Buffer | undefined) => (Buffer.isBuffer(v) ? v : Buffer.alloc(0));
const int = (v: bigint | Buffer | undefined) => (typeof v === 'bigint' ? v : 0n);

export function encodeRequest(r: Request): Buffer {
  const w = new Writer().stringField(1, r.service).stringField(2, r.method).bytesField(3, r.payload).varintField(4, r.timeoutNano);
  for (const kv of r.metadata) w.bytesField(5, new Writer().stringField(1, kv.key).stringField(2, kv.value).finish());
  return w.finish();
}

export function decodeRequest(data: Uint8Array): Request {
  const f = fields(data);
  return {
    service: str(f.get(1)?.[0]),
    method: str(f.get(2)?.[0]),
    payload: buf(f.get(3)?.[0]),
    timeoutNano: BigInt.asIntN(64, int(f.get(4)?.[0])),
    metadata: (f.get(5) ?? []).map((kv) => {
      const e = fields(buf(kv));
      return { key: str(e.get(1)?.[0]), value: str(e.get(2)?.[0]) };
    }),
  };
}

export function encodeResponse(r: Response): Buffer {
  const w = new Writer();
  if (r.status && r.status.code !== 0) w.bytesField(1, new Writer().varintField(1, r.status.code).stringField(2, r.status.message).finish());
  return w.bytesField(2, r.payload).finish();
}

export function decodeResponse(data: Uint8Array): Response {
  const f = fields(data);
  const status = f.get(1)?.[0];
  const s = status ? fields(buf(status)) : undefined;
  return {
    ...(s ? { status: { code: Number(BigInt.asIntN(32, int(s.get(1)?.[0]))), message: str(s.get(2)?.[0]) } } : {}),
    payload: buf(f.get(2)?.[0]),
  };
}
