// Go gRPC clients built on Kubernetes' CRI client (crictl, critest, kubelet before 1.27) dial a
// unix socket by its path and send that path as the HTTP/2 `:authority`. nghttp2, under Node's
// http2, refuses an authority with "/" in it (RFC 3986) and resets every such stream with
// PROTOCOL_ERROR, so those clients could not talk to ledgerd at all; containerd's Go server
// takes any authority. For those connections the daemon rewrites, in the client's HEADERS
// frames, every "/" of a literal `:authority` value into "_": the same number of characters and,
// Huffman-coded, the same number of bits (both codes are 6 bits), so frame lengths and both
// sides' HPACK dynamic tables stay as the client computed them. Nothing else is touched.
//
// Rewriting costs JS work on every byte, so it is decided per connection from the client's first
// HEADERS frame: ctr, containerd's Go client, Docker and grpc-js send a valid authority and get
// their raw socket handed to http2 (nghttp2 reads it natively). Go clients send no HEADERS until
// they have the server's SETTINGS, and http2 is not yet there to send them, so the router sends
// an empty SETTINGS frame itself (the server preface may be empty) and removes the client's ACK
// of it, which http2 would take for an ACK of its own SETTINGS.
import type { Socket } from 'node:net';
import { encode as HUFFMAN } from 'hpack.js/lib/hpack/huffman.js';
import { socketPair } from '../util/socket-pair.js';

const CLIENT_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
const PREFACE_LENGTH = CLIENT_PREFACE.length;
const FRAME_HEADER = 9;
const HEADERS = 0x1;
const SETTINGS = 0x4;
const ACK = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY = 0x20;
const AUTHORITY_INDEX = 1; // :authority in HPACK's static table
const SLASH = 0x2f;
const UNDERSCORE = 0x5f;
/** Frames a client sends before its first request: SETTINGS, PRIORITY, WINDOW_UPDATE. */
const BEFORE_HEADERS = new Set([SETTINGS, 0x2, 0x8]);
const EMPTY_SETTINGS = Buffer.from([0, 0, 0, SETTINGS, 0, 0, 0, 0, 0]);
/** Bytes a client may send before the router decides; past this it rewrites (bounded, always right). */
const MAX_UNDECIDED = 256 * 1024;

/**
 * Hands an accepted connection to http2 through `hand`: the socket itself when the client's
 * first HEADERS frame has a valid `:authority`, else one end of a socket pair whose other end the
 * daemon feeds with the client's bytes, rewritten. Either way http2 gets a real socket.
 */
export function routeConnection(socket: Socket, hand: (socket: Socket) => void): void {
  socket.write(EMPTY_SETTINGS);
  let received: Buffer = Buffer.alloc(0); // what the client sent, less the ACK of our SETTINGS
  let scanned = 0; // where the next unread frame starts
  let acked = false;
  let rewrite: boolean | undefined;
  const onData = (data: Buffer) => {
    received = received.length > 0 ? Buffer.concat([received, data]) : data;
    if (scanned === 0 && received.length >= PREFACE_LENGTH) {
      scanned = PREFACE_LENGTH;
      // not HTTP/2: http2 answers it as it would have
      if (!received.subarray(0, PREFACE_LENGTH).equals(CLIENT_PREFACE)) [rewrite, acked] = [false, true];
    }
    while (scanned > 0 && (rewrite === undefined || !acked) && received.length >= scanned + FRAME_HEADER) {
      const length = received.readUIntBE(scanned, 3);
      const end = scanned + FRAME_HEADER + length;
      if (received.length < end) break;
      const type = received[scanned + 3]!;
      const flags = received[scanned + 4]!;
      if (type === SETTINGS && flags & ACK && !acked) {
        received = Buffer.concat([received.subarray(0, scanned), received.subarray(end)]);
        acked = true;
        continue;
      }
      if (type === HEADERS && rewrite === undefined) {
        rewrite = !(flags & END_HEADERS) || fixHeaderBlock(Buffer.from(received.subarray(scanned, end)));
      } else if (rewrite === undefined && !BEFORE_HEADERS.has(type)) {
        rewrite = true; // e.g. a keepalive PING, which only http2 answers: the pipe is always right
      }
      scanned = end;
      if (rewrite) break;
    }
    if (rewrite === undefined && received.length > MAX_UNDECIDED) rewrite = true;
    if (rewrite === true || (rewrite === false && acked)) handOver();
  };
  const onEnd = () => socket.destroy();
  const onError = () => socket.destroy();
  const handOver = () => {
    socket.off('data', onData).off('end', onEnd).off('error', onError).pause();
    if (rewrite) return hand(rewritingPipe(socket, received, !acked));
    if (received.length > 0) socket.unshift(received); // http2 takes a socket's buffered bytes first
    hand(socket);
  };
  socket.on('data', onData).on('end', onEnd).on('error', onError);
}

/** The http2 end of a socket pair fed with the client's bytes, rewritten; its answers go back as they are. */
function rewritingPipe(client: Socket, received: Buffer, ackPending: boolean): Socket {
  const [inner, outer] = socketPair();
  const rewriter = new HeadersRewriter({ dropSettingsAck: ackPending });
  const close = () => {
    client.destroy();
    outer.destroy();
  };
  outer.write(rewriter.push(received));
  client.on('data', (data: Buffer) => {
    const out = rewriter.push(data);
    if (out.length > 0 && !outer.write(out)) client.pause();
  });
  outer.on('drain', () => client.resume());
  client.on('end', () => outer.end());
  outer.pipe(client);
  for (const side of [client, outer]) side.on('error', close).on('close', close);
  client.resume();
  return inner;
}

/**
 * Splits the client's byte stream into the preface and whole frames; HEADERS frames are fixed,
 * and the first SETTINGS ACK is dropped when it answers the router's SETTINGS rather than http2's.
 */
export class HeadersRewriter {
  private pending = Buffer.alloc(0);
  private prefaceLeft = PREFACE_LENGTH;
  private dropSettingsAck: boolean;

  constructor(options: { dropSettingsAck?: boolean } = {}) {
    this.dropSettingsAck = options.dropSettingsAck ?? false;
  }

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
      buffer = buffer.subarray(FRAME_HEADER + length);
      if (this.dropSettingsAck && frame[3] === SETTINGS && frame[4]! & ACK) {
        this.dropSettingsAck = false;
        continue;
      }
      if (frame[3] === HEADERS) fixHeaderBlock(frame);
      out.push(frame);
    }
    this.pending = Buffer.from(buffer);
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }
}

/** Walks the HPACK representations of a HEADERS frame and fixes literal :authority values in place; true if any was. */
function fixHeaderBlock(frame: Buffer): boolean {
  const flags = frame[4]!;
  let pos = FRAME_HEADER;
  let end = frame.length;
  let changed = false;
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
      if (int(7) === undefined) return changed; // indexed field
      continue;
    }
    if ((b & 0xe0) === 0x20) {
      if (int(5) === undefined) return changed; // dynamic table size update
      continue;
    }
    const nameIndex = int((b & 0xc0) === 0x40 ? 6 : 4);
    if (nameIndex === undefined) return changed;
    let isAuthority = nameIndex === AUTHORITY_INDEX;
    if (nameIndex === 0) {
      const name = string();
      if (!name) return changed;
      isAuthority = !name.huffman && frame.toString('latin1', name.at, name.at + name.length) === ':authority';
    }
    const value = string();
    if (!value) return changed; // a block continued in a CONTINUATION frame: left as it is
    if (isAuthority && fixValue(frame, value)) changed = true;
  }
  return changed;
}

function fixValue(frame: Buffer, value: { at: number; length: number; huffman: boolean }): boolean {
  const bytes = frame.subarray(value.at, value.at + value.length);
  if (!value.huffman) {
    if (!bytes.includes(SLASH)) return false;
    for (let i = 0; i < bytes.length; i++) if (bytes[i] === SLASH) bytes[i] = UNDERSCORE;
    return true;
  }
  const symbols = huffmanDecode(bytes);
  if (!symbols || !symbols.includes(SLASH)) return false;
  huffmanEncode(symbols.map((s) => (s === SLASH ? UNDERSCORE : s))).copy(bytes);
  return true;
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
