import { connect, type Socket } from 'node:net';
import { decodeResponse, encodeRequest } from './wire.js';
import { encodeFrame, FrameReader, MESSAGE_REQUEST, MESSAGE_RESPONSE } from './channel.js';
import { Code, TtrpcClosedError, TtrpcError } from './errors.js';

export interface CallOptions {
  /** Deadline in milliseconds: sent as timeout_nano, and the call fails with DeadlineExceeded after it. */
  readonly timeoutMs?: number;
  readonly metadata?: Record<string, string>;
}

interface Pending {
  resolve(payload: Buffer): void;
  reject(err: Error): void;
  timer?: NodeJS.Timeout;
}

/**
 * A ttrpc client on one connection: unary calls on odd stream ids, answered in any order.
 * Closing (either side) fails every call in flight with TtrpcClosedError.
 */
export class TtrpcClient {
  private nextStream = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly reader = new FrameReader();
  private closedWith: Error | undefined;
  private readonly closeListeners: (() => void)[] = [];

  constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => this.fail(new TtrpcClosedError()));
  }

  static dial(path: string, timeoutMs = 100_000): Promise<TtrpcClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(path);
      const timer = setTimeout(() => socket.destroy(new Error(`dial ${path}: timed out after ${timeoutMs} ms`)), timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new TtrpcClient(socket));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  /** Called once when the connection ends (the shim went away, or close()). */
  onClose(listener: () => void): void {
    if (this.closedWith) listener();
    else this.closeListeners.push(listener);
  }

  call(service: string, method: string, payload: Uint8Array, options: CallOptions = {}): Promise<Buffer> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const streamId = this.nextStream;
    this.nextStream += 2;
    const metadata = Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value }));
    const timeoutNano = options.timeoutMs ? BigInt(Math.round(options.timeoutMs * 1e6)) : 0n;
    const frame = encodeFrame(streamId, MESSAGE_REQUEST, encodeRequest({ service, method, payload, timeoutNano, metadata }));
    return new Promise((resolve, reject) => {
      const entry: Pending = { resolve, reject };
      if (options.timeoutMs) {
        entry.timer = setTimeout(() => {
          this.pending.delete(streamId);
          reject(new TtrpcError(Code.DeadlineExceeded, `${service}/${method}: context deadline exceeded`));
        }, options.timeoutMs);
      }
      this.pending.set(streamId, entry);
      this.socket.write(frame);
    });
  }

  close(): void {
    this.socket.destroy();
    this.fail(new TtrpcClosedError());
  }

  private receive(chunk: Buffer): void {
    let frames;
    try {
      frames = this.reader.push(chunk);
    } catch (err) {
      this.socket.destroy(err as Error);
      return;
    }
    for (const frame of frames) {
      if (frame.type !== MESSAGE_RESPONSE) continue;
      const entry = this.pending.get(frame.streamId);
      if (!entry) continue;
      this.pending.delete(frame.streamId);
      clearTimeout(entry.timer);
      if (frame.oversize) {
        entry.reject(new TtrpcError(Code.ResourceExhausted, `message length ${frame.oversize} exceed maximum message size`));
        continue;
      }
      try {
        const response = decodeResponse(frame.payload);
        if (response.status && response.status.code !== 0) entry.reject(new TtrpcError(response.status.code, response.status.message));
        else entry.resolve(Buffer.from(response.payload));
      } catch (err) {
        entry.reject(new TtrpcError(Code.Unknown, `undecodable response: ${(err as Error).message}`));
      }
    }
  }

  private fail(err: Error): void {
    if (this.closedWith) return;
    this.closedWith = err;
    for (const entry of this.pending.values()) {
      clearTimeout(entry.timer);
      entry.reject(err);
    }
    this.pending.clear();
    for (const listener of this.closeListeners.splice(0)) listener();
  }
}
