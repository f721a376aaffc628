// SPDY/3.1 framing (SPDY Protocol draft 3.1, section 2.2): what goes on the wire after an HTTP
// upgrade to "SPDY/3.1", as Kubernetes' remotecommand and portforward clients speak it through
// moby/spdystream. A frame is 8 bytes of header then its payload:
//   control: 1 | version(15) | type(16) | flags(8) | length(24)
//   data:    0 | stream id(31)          | flags(8) | length(24)
// Header blocks (SYN_STREAM, SYN_REPLY, HEADERS) are name/value lists compressed with zlib, one
// compression context per direction for the whole connection, primed with the SPDY dictionary.
import { Deflate, Inflate, Z_SYNC_FLUSH } from 'pako';
import { SPDY3_DICTIONARY } from './dictionary.js';

export const SPDY_VERSION = 3;

export const FrameType = {
  SynStream: 1,
  SynReply: 2,
  RstStream: 3,
  Settings: 4,
  Ping: 6,
  GoAway: 7,
  Headers: 8,
  WindowUpdate: 9,
} as const;

/** FLAG_FIN on data and stream frames: the sender's last frame on that stream. */
export const FLAG_FIN = 0x01;

/** RST_STREAM status codes. */
export const RstStatus = { ProtocolError: 1, InvalidStream: 2, RefusedStream: 3, Cancel: 5, InternalError: 6 } as const;

/** The largest payload a frame's 24-bit length can carry. */
export const MAX_FRAME_PAYLOAD = 0xffffff;

export type Frame =
  | { readonly control: false; readonly streamId: number; readonly flags: number; readonly data: Buffer }
  | { readonly control: true; readonly version: number; readonly type: number; readonly flags: number; readonly payload: Buffer };

/** Splits a byte stream into frames; bytes of an unfinished frame wait for the next push. */
export class FrameReader {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly maxPayload = MAX_FRAME_PAYLOAD) {}

  push(chunk: Buffer): Frame[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: Frame[] = [];
    while (this.pending.length >= 8) {
      const length = this.pending.readUInt32BE(4) & 0xffffff;
      if (length > this.maxPayload) throw new Error(`SPDY frame of ${length} bytes is over the limit of ${this.maxPayload}`);
      if (this.pending.length < 8 + length) break;
      const head = this.pending.readUInt32BE(0);
      const flags = this.pending[4];
      const body = this.pending.subarray(8, 8 + length);
      frames.push(
        head & 0x80000000
          ? { control: true, version: (head >>> 16) & 0x7fff, type: head & 0xffff, flags, payload: body }
          : { control: false, streamId: head & 0x7fffffff, flags, data: body },
      );
      this.pending = this.pending.subarray(8 + length);
    }
    return frames;
  }
}

export function controlFrame(type: number, flags: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE((0x80000000 | (SPDY_VERSION << 16) | type) >>> 0, 0);
  head.writeUInt32BE(((flags << 24) | payload.length) >>> 0, 4);
  return Buffer.concat([head, payload]);
}

export function dataFrame(streamId: number, data: Buffer, fin: boolean): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(streamId & 0x7fffffff, 0);
  head.writeUInt32BE((((fin ? FLAG_FIN : 0) << 24) | data.length) >>> 0, 4);
  return Buffer.concat([head, data]);
}

export const uint32s = (...values: number[]): Buffer => {
  const out = Buffer.alloc(4 * values.length);
  values.forEach((v, i) => out.writeUInt32BE(v >>> 0, 4 * i));
  return out;
};

/** Header names are lower case on the wire; a name's several values are joined with NUL. */
export type Headers = Readonly<Record<string, string>>;

/** Decodes the peer's header blocks, in the order they were sent (the context spans frames). */
export class HeaderDecoder {
  private readonly inflate = new Inflate({ dictionary: SPDY3_DICTIONARY });
  private output: Uint8Array[] = [];

  constructor() {
    this.inflate.onData = (chunk: Uint8Array) => void this.output.push(chunk);
  }

  decode(block: Buffer): Headers {
    this.output = [];
    this.inflate.push(block, Z_SYNC_FLUSH);
    if (this.inflate.err) throw new Error(`SPDY header block does not decompress: ${this.inflate.msg || this.inflate.err}`);
    const raw = Buffer.concat(this.output);
    const headers: Record<string, string> = {};
    let at = 0;
    const take = (n: number) => {
      if (at + n > raw.length) throw new Error('SPDY header block is truncated');
      const slice = raw.subarray(at, at + n);
      at += n;
      return slice;
    };
    const count = take(4).readUInt32BE(0);
    for (let i = 0; i < count; i++) {
      const name = take(take(4).readUInt32BE(0)).toString('latin1').toLowerCase();
      const value = take(take(4).readUInt32BE(0)).toString('latin1');
      headers[name] = headers[name] === undefined ? value : `${headers[name]}\0${value}`;
    }
    return headers;
  }
}

/** Encodes our header blocks with one compression context for the connection. */
export class HeaderEncoder {
  private readonly deflate = new Deflate({ dictionary: SPDY3_DICTIONARY });
  private output: Uint8Array[] = [];

  constructor() {
    this.deflate.onData = (chunk: Uint8Array) => void this.output.push(chunk);
  }

  encode(headers: Headers): Buffer {
    const entries = Object.entries(headers);
    const parts = [uint32s(entries.length)];
    for (const [name, value] of entries) {
      const n = Buffer.from(name.toLowerCase(), 'latin1');
      const v = Buffer.from(value, 'latin1');
      parts.push(uint32s(n.length), n, uint32s(v.length), v);
    }
    this.output = [];
    this.deflate.push(Buffer.concat(parts), Z_SYNC_FLUSH);
    return Buffer.concat(this.output);
  }
}
