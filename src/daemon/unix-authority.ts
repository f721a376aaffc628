// Go gRPC clients built on Kubernetes' CRI client (crictl, critest, kubelet before 1.27) dial a
// unix socket by its path and send that path as the HTTP/2 `:authority`. nghttp2, under Node's
// http2, refuses an authority with "/" in it (RFC 3986) and resets every such stream with
// PROTOCOL_ERROR, so those clients could not talk to ledgerd at all; containerd's Go server
// takes any authority. This wraps each accepted connection and rewrites, in the client's HEADERS
// frames, every "/" of a literal `:authority` value into "_": the same number of characters and,
// Huffman-coded, the same number of bits (both codes are 6 bits), so frame lengths and both
// sides' HPACK dynamic tables stay as the client computed them. Nothing else is touched.
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { encode as HUFFMAN } from 'hpack.js/lib/hpack/huffman.js';

const PREFACE_LENGTH = 24;
const FRAME_HEADER = 9;
const HEADERS = 0x1;
const PADDED = 0x8;
const PRIORITY = 0x20;
const AUTHORITY_INDEX = 1; // :authority in HPACK's static table
const SLASH = 0x2f;
const UNDERSCORE = 0x5f;

/** The connection as the HTTP/2 server is to see it, with remoteAddress passed through. */
export function fixUnixAuthority(socket: Socket): Duplex {
  const rewriter = new HeadersRewriter();
  const duplex = new Duplex({
    read: () => void socket.resume(),
    write: (chunk, encoding, done) => void socket.write(chunk, encoding, done),
    final: (done) => {
      socket.end();
      done();
    },
    destroy: (err, done) => {
      socket.destroy(err ?? undefined);
      done(err);
    },
  });
  socket.on('data', (data: Buffer) => {
    const out = rewriter.push(data);
    if (out.length > 0 && !duplex.push(out)) socket.pause();
  });
  socket.on('end', () => duplex.push(null));
  socket.on('error', (err) => duplex.destroy(err));
  socket.on('close', () => duplex.destroy());
  for (const name of ['remoteAddress', 'remotePort', 'remoteFamily', 'localAddress'] as const) {
    Object.defineProperty(duplex, name, { get: () => socket[name], configurable: true });
  }
  return duplex;
}

/** Splits the client's byte stream into the preface and whole frames; HEADERS frames are fixed. */
export class HeadersRewriter {
  private pending = Buffer.alloc(0);
  private prefaceLeft = PREFACE_LENGTH;

  push(data: Buffer): Buffer {
    const out: Buffer[] = [];
    if (this.prefaceLeft > 0) {
      const preface = data.subarray(0, this.prefaceLeft);
      this.prefaceLeft -= preface.length;
      out.push(preface);
      data = data.subarray(preface.length);
    }
    let buffer = this.pending.length > 0 ? Buffer.concat([this.pending, data]) : data;
    while (buffer.length >= FRAME_HEADER) {
      const length = buffer.readUIntBE(0, 3);
      if (buffer.length < FRAME_HEADER + length) break;
      const frame = buffer.subarray(0, FRAME_HEADER + length);
      if (frame[3] === HEADERS) fixHeaderBlock(frame);
      out.push(frame);
      buffer = buffer.subarray(FRAME_HEADER + length);
    }
    this.pending = Buffer.from(buffer);
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }
}

/** Walks the HPACK representations of a HEADERS frame and fixes literal :authority values in place. */
function fixHeaderBlock(frame: Buffer): void {
  const flags = frame[4]!;
  let pos = FRAME_HEADER;
  let end = frame.length;
  if (flags & PADDED) end -= frame[pos++]!;
  if (flags & PRIORITY) pos += 5;
  const int = (prefixBits: number): number | undefined => {
    const max = (1 << prefixBits) - 1;
    let value = frame[pos++]! & max;
    if (value < max) return value;
    for (let shift = 0; pos < end; shift += 7) {
      const b = frame[pos++]!;
      value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return value;
    }
    return undefined;
  };
  const string = (): { at: number; length: number; huffman: boolean } | undefined => {
    if (pos >= end) return undefined;
    const huffman = (frame[pos]! & 0x80) !== 0;
    const length = int(7);
    if (length === undefined || pos + length > end) return undefined;
    const at = pos;
    pos += length;
    return { at, length, huffman };
  };
  while (pos < end) {
    const b = frame[pos]!;
    if (b & 0x80) {
      if (int(7) === undefined) return; // indexed field
      continue;
    }
    if ((b & 0xe0) === 0x20) {
      if (int(5) === undefined) return; // dynamic table size update
      continue;
    }
    const nameIndex = int((b & 0xc0) === 0x40 ? 6 : 4);
    if (nameIndex === undefined) return;
    let isAuthority = nameIndex === AUTHORITY_INDEX;
    if (nameIndex === 0) {
      const name = string();
      if (!name) return;
      isAuthority = !name.huffman && frame.toString('latin1', name.at, name.at + name.length) === ':authority';
    }
    const value = string();
    if (!value) return; // a block continued in a CONTINUATION frame: left as it is
    if (isAuthority) fixValue(frame, value);
  }
}

function fixValue(frame: Buffer, value: { at: number; length: number; huffman: boolean }): void {
  const bytes = frame.subarray(value.at, value.at + value.length);
  if (!value.huffman) {
    for (let i = 0; i < bytes.length; i++) if (bytes[i] === SLASH) bytes[i] = UNDERSCORE;
    return;
  }
  const symbols = huffmanDecode(bytes);
  if (!symbols || !symbols.includes(SLASH)) return;
  huffmanEncode(symbols.map((s) => (s === SLASH ? UNDERSCORE : s))).copy(bytes);
}

const DECODE = new Map(HUFFMAN.map(([bits, code], symbol) => [`${bits}:${code}`, symbol]));

function huffmanDecode(bytes: Buffer): number[] | undefined {
  const symbols: number[] = [];
  let code = 0;
  let bits = 0;
  for (const byte of bytes) {
    for (let i = 7; i >= 0; i--) {
      code = code * 2 + ((byte >> i) & 1);
      bits++;
      const symbol = DECODE.get(`${bits}:${code}`);
      if (symbol !== undefined) {
        symbols.push(symbol);
        code = 0;
        bits = 0;
      } else if (bits > 30) return undefined;
    }
  }
  return symbols; // what is left is the padding of 1 bits
}

function huffmanEncode(symbols: readonly number[]): Buffer {
  const out: number[] = [];
  let acc = 0;
  let count = 0;
  for (const symbol of symbols) {
    const [bits, code] = HUFFMAN[symbol]!;
    for (let i = bits - 1; i >= 0; i--) {
      acc = (acc << 1) | ((code >> i) & 1);
      if (++count === 8) {
        out.push(acc);
        acc = 0;
        count = 0;
      }
    }
  }
  if (count > 0) out.push((acc << (8 - count)) | ((1 << (8 - count)) - 1));
  return Buffer.from(out);
}
