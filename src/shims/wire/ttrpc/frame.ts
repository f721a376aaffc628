/**
 * ttrpc 1.1 framing (ttrpc/channel.go): a 10-byte header, then the payload.
 *   bytes 0-3  payload length, uint32 big-endian (header excluded), at most 4 MiB
 *   bytes 4-7  stream id, uint32 big-endian (client streams are odd)
 *   byte  8    message type (1 request, 2 response)
 *   byte  9    flags (0 in 1.1)
 */
export const HEADER_LENGTH = 10;
export const MAX_MESSAGE_LENGTH = 4 << 20;

export const MessageType = { Request: 0x01, Response: 0x02 } as const;

export interface Frame {
  readonly streamId: number;
  readonly type: number;
  readonly flags: number;
  readonly payload: Buffer;
}

/** A frame whose payload was over the limit: skipped on the wire, reported by its header. */
export interface OversizedFrame {
  readonly streamId: number;
  readonly type: number;
  readonly oversized: number;
}

export const isOversized = (frame: Frame | OversizedFrame): frame is OversizedFrame => 'oversized' in frame;

export function encodeFrame(streamId: number, type: number, payload: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(HEADER_LENGTH + payload.length);
  frame.writeUInt32BE(payload.length, 0);
  frame.writeUInt32BE(streamId >>> 0, 4);
  frame[8] = type;
  frame[9] = 0;
  frame.set(payload, HEADER_LENGTH);
  return frame;
}

interface Header {
  readonly length: number;
  readonly streamId: number;
  readonly type: number;
  readonly flags: number;
}

/**
 * Cuts a byte stream into frames. Chunks are kept as they arrive and joined once per payload,
 * so a 4 MiB message in 64 KiB reads is copied once. An oversized payload is read and dropped
 * (as ttrpc does) and reported so the receiver can answer that stream with ResourceExhausted.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private header: Header | undefined;
  private discarding = 0;

  push(chunk: Buffer): (Frame | OversizedFrame)[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: (Frame | OversizedFrame)[] = [];
    for (;;) {
      if (this.header && this.header.length > MAX_MESSAGE_LENGTH) {
        const skip = Math.min(this.discarding, this.buffered);
        this.drop(skip);
        this.discarding -= skip;
        if (this.discarding > 0) break;
        frames.push({ streamId: this.header.streamId, type: this.header.type, oversized: this.header.length });
        this.header = undefined;
        continue;
      }
      if (!this.header) {
        if (this.buffered < HEADER_LENGTH) break;
        const bytes = this.take(HEADER_LENGTH);
        this.header = { length: bytes.readUInt32BE(0), streamId: bytes.readUInt32BE(4), type: bytes[8]!, flags: bytes[9]! };
        this.discarding = this.header.length > MAX_MESSAGE_LENGTH ? this.header.length : 0;
        continue;
      }
      if (this.buffered < this.header.length) break;
      const { streamId, type, flags, length } = this.header;
      frames.push({ streamId, type, flags, payload: this.take(length) });
      this.header = undefined;
    }
    return frames;
  }

  /** Forgets the next n buffered bytes (n <= buffered) without copying them. */
  private drop(n: number): void {
    this.buffered -= n;
    while (n > 0) {
      const chunk = this.chunks[0]!;
      if (chunk.length > n) {
        this.chunks[0] = chunk.subarray(n);
        return;
      }
      n -= chunk.length;
      this.chunks.shift();
    }
  }

  /** The next n buffered bytes (n <= buffered). */
  private take(n: number): Buffer {
    this.buffered -= n;
    const first = this.chunks[0];
    if (n === 0 || !first) return Buffer.alloc(0);
    if (first.length > n) {
      this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    if (first.length === n) {
      this.chunks.shift();
      return first;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[0]!;
      const part = Math.min(chunk.length, n - filled);
      chunk.copy(out, filled, 0, part);
      filled += part;
      if (part === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(part);
    }
    return out;
  }
}
