// ttrpc framing (ttrpc/channel.go): a 10-byte header — payload length and stream id (uint32
// big-endian), message type, flags — then the payload, at most 4 MiB.

export const MESSAGE_REQUEST = 1;
export const MESSAGE_RESPONSE = 2;
export const MAX_MESSAGE_SIZE = 4 << 20;
const HEADER = 10;

export interface Frame {
  readonly streamId: number;
  readonly type: number;
  readonly flags: number;
  readonly payload: Buffer;
  /** Its declared length was over the limit: the payload was skipped (`payload` is empty). */
  readonly oversize?: number;
}

export function encodeFrame(streamId: number, type: number, payload: Uint8Array): Buffer {
  if (payload.length > MAX_MESSAGE_SIZE) throw new Error(`message length ${payload.length} exceed maximum message size of ${MAX_MESSAGE_SIZE}`);
  const out = Buffer.allocUnsafe(HEADER + payload.length);
  out.writeUInt32BE(payload.length, 0);
  out.writeUInt32BE(streamId, 4);
  out[8] = type;
  out[9] = 0;
  out.set(payload, HEADER);
  return out;
}

/** Cuts a byte stream into frames, whatever the chunk boundaries. */
export class FrameReader {
  private pending: Buffer = Buffer.alloc(0);
  private skipping = 0;

  push(chunk: Buffer): Frame[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: Frame[] = [];
    for (;;) {
      if (this.skipping > 0) {
        const skipped = Math.min(this.skipping, this.pending.length);
        this.pending = this.pending.subarray(skipped);
        this.skipping -= skipped;
        if (this.skipping > 0) return frames;
      }
      if (this.pending.length < HEADER) return frames;
      const length = this.pending.readUInt32BE(0);
      const streamId = this.pending.readUInt32BE(4);
      const type = this.pending[8]!;
      const flags = this.pending[9]!;
      if (length > MAX_MESSAGE_SIZE) {
        this.pending = this.pending.subarray(HEADER);
        this.skipping = length;
        frames.push({ streamId, type, flags, payload: Buffer.alloc(0), oversize: length });
        continue;
      }
      if (this.pending.length < HEADER + length) return frames;
      frames.push({ streamId, type, flags, payload: Buffer.from(this.pending.subarray(HEADER, HEADER + length)) });
      this.pending = this.pending.subarray(HEADER + length);
    }
  }
}
