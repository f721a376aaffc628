// The server's end of a SPDY/3.1 connection, as the Kubernetes clients use it (moby/spdystream):
// the client opens streams (SYN_STREAM with headers naming the stream's role), the server accepts
// each (SYN_REPLY) or refuses it (RST_STREAM), and both sides send data frames until FIN.
//
// Flow control: spdystream neither sends WINDOW_UPDATE nor honours it, so there is none on the
// wire and none here; a stream whose reader is behind pauses the whole socket instead, which is
// what TCP under one connection gives anyway.
import { EventEmitter } from 'node:events';
import type { Duplex as DuplexSocket } from 'node:stream';
import { Duplex } from 'node:stream';
import { controlFrame, dataFrame, FLAG_FIN, FrameReader, FrameType, HeaderDecoder, HeaderEncoder, RstStatus, SPDY_VERSION, uint32s, type Frame, type Headers } from './frames.js';

/** Data frames we send are cut to this size so that one big write does not hold the socket. */
const DATA_CHUNK = 32 * 1024;

export interface SpdySessionOptions {
  /** Closes the connection after this long without a frame either way (0: never). */
  readonly idleTimeoutMs: number;
}

/** One client-initiated stream: a duplex of its data frames. */
export class SpdyStream extends Duplex {
  private replied = false;
  private localClosed = false;
  remoteClosed = false;

  constructor(
    private readonly session: SpdySession,
    readonly id: number,
    readonly headers: Headers,
  ) {
    super({ allowHalfOpen: true });
  }

  /** Accepts the stream (SYN_REPLY); data may flow from then on. */
  accept(): void {
    if (this.replied) return;
    this.replied = true;
    this.session.sendReply(this.id);
  }

  /** Refuses or abandons the stream (RST_STREAM). */
  reset(status: number = RstStatus.Cancel): void {
    if (!this.localClosed || !this.remoteClosed) this.session.sendReset(this.id, status);
    this.localClosed = true;
    this.remoteEnded();
    this.session.forget(this.id);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    if (this.localClosed) return done();
    this.accept();
    this.session.sendData(this.id, chunk, false, done);
  }

  override _final(done: (err?: Error | null) => void): void {
    if (this.localClosed) return done();
    this.accept();
    this.localClosed = true;
    this.session.sendData(this.id, Buffer.alloc(0), true, done);
    if (this.remoteClosed) this.session.forget(this.id);
  }

  override _read(): void {
    this.session.resumeReading();
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.localClosed = true;
    this.remoteClosed = true;
    this.session.forget(this.id);
    done(err);
  }

  /** Data from the peer; false when the reader is behind. */
  received(data: Buffer): boolean {
    if (this.remoteClosed || this.destroyed) return true;
    return this.push(data);
  }

  remoteEnded(): void {
    if (this.remoteClosed || this.destroyed) return;
    this.remoteClosed = true;
    this.push(null);
    if (this.localClosed) this.session.forget(this.id);
  }

  /** The connection went away: nothing more can be sent or received. */
  connectionClosed(): void {
    this.localClosed = true;
    this.remoteEnded();
  }
}

/**
 * Emits 'stream' (SpdyStream) for each stream the client opens, and 'close' once the socket is
 * gone. The listener decides at once whether to accept() or reset() a new stream.
 */
export class SpdySession extends EventEmitter {
  private readonly reader = new FrameReader();
  private readonly decoder = new HeaderDecoder();
  private readonly encoder = new HeaderEncoder();
  private readonly streams = new Map<number, SpdyStream>();
  private lastStreamId = 0;
  private goneAway = false;
  private closedFlag = false;
  readonly closed: Promise<void>;

  constructor(
    private readonly socket: DuplexSocket & { setTimeout?(ms: number, cb?: () => void): unknown; setNoDelay?(on?: boolean): unknown },
    head: Buffer,
    options: SpdySessionOptions,
  ) {
    super();
    this.closed = new Promise((resolve) => this.once('close', resolve));
    socket.setNoDelay?.(true);
    if (options.idleTimeoutMs > 0) socket.setTimeout?.(options.idleTimeoutMs, () => this.close());
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => undefined); // 'close' follows
    socket.on('end', () => this.close());
    socket.on('close', () => this.onClosed());
    if (head.length > 0) queueMicrotask(() => this.onData(head));
  }

  /** Sends GOAWAY and closes the connection once what was written is out. */
  close(): void {
    if (this.closedFlag) return;
    if (!this.goneAway) {
      this.goneAway = true;
      this.write(controlFrame(FrameType.GoAway, 0, uint32s(this.lastStreamId, 0)));
    }
    this.socket.end();
    // a client that never closes its side does not keep the socket: destroy soon after our FIN
    setTimeout(() => this.socket.destroy(), 5000).unref();
  }

  destroy(): void {
    this.socket.destroy();
  }

  sendReply(streamId: number): void {
    const block = this.encoder.encode({});
    this.write(controlFrame(FrameType.SynReply, 0, Buffer.concat([uint32s(streamId), block])));
  }

  sendReset(streamId: number, status: number): void {
    this.write(controlFrame(FrameType.RstStream, 0, uint32s(streamId, status)));
  }

  sendData(streamId: number, data: Buffer, fin: boolean, done: (err?: Error | null) => void): void {
    if (this.closedFlag) return done();
    const pieces: Buffer[] = [];
    for (let at = 0; at < data.length; at += DATA_CHUNK) pieces.push(data.subarray(at, at + DATA_CHUNK));
    if (pieces.length === 0) pieces.push(data);
    let flowing = true;
    pieces.forEach((piece, i) => (flowing = this.write(dataFrame(streamId, piece, fin && i === pieces.length - 1))));
    if (flowing) return done();
    const resume = () => {
      this.socket.off('drain', resume);
      this.socket.off('close', resume);
      done();
    };
    this.socket.on('drain', resume);
    this.socket.on('close', resume);
  }

  forget(streamId: number): void {
    this.streams.delete(streamId);
  }

  resumeReading(): void {
    if (!this.closedFlag) this.socket.resume();
  }

  private write(frame: Buffer): boolean {
    if (this.closedFlag || this.socket.writableEnded) return true;
    return this.socket.write(frame);
  }

  private onData(chunk: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.reader.push(chunk);
    } catch {
      return this.destroy();
    }
    for (const frame of frames) {
      try {
        this.handle(frame);
      } catch {
        // a frame we cannot read leaves the header contexts out of step: nothing after it can be trusted
        return this.destroy();
      }
    }
  }

  private handle(frame: Frame): void {
    if (!frame.control) {
      const stream = this.streams.get(frame.streamId);
      if (!stream) return;
      if (frame.data.length > 0 && !stream.received(frame.data)) this.socket.pause();
      if (frame.flags & FLAG_FIN) stream.remoteEnded();
      return;
    }
    if (frame.version !== SPDY_VERSION) return this.destroy();
    const p = frame.payload;
    switch (frame.type) {
      case FrameType.SynStream: {
        const id = p.readUInt32BE(0) & 0x7fffffff;
        const headers = this.decoder.decode(p.subarray(10));
        // client streams are odd and increasing
        if (id % 2 === 0 || id <= this.lastStreamId || this.goneAway) return this.sendReset(id, RstStatus.ProtocolError);
        this.lastStreamId = id;
        const stream = new SpdyStream(this, id, headers);
        this.streams.set(id, stream);
        if (frame.flags & FLAG_FIN) stream.remoteEnded();
        this.emit('stream', stream);
        return;
      }
      case FrameType.Headers: {
        const id = p.readUInt32BE(0) & 0x7fffffff;
        this.decoder.decode(p.subarray(4)); // keeps the context in step; nothing here uses them
        if (frame.flags & FLAG_FIN) this.streams.get(id)?.remoteEnded();
        return;
      }
      case FrameType.SynReply:
        this.decoder.decode(p.subarray(4));
        return;
      case FrameType.RstStream: {
        const stream = this.streams.get(p.readUInt32BE(0) & 0x7fffffff);
        stream?.connectionClosed();
        if (stream) this.forget(stream.id);
        return;
      }
      case FrameType.Ping:
        // the client's pings (odd ids) come back as they are
        this.write(controlFrame(FrameType.Ping, 0, p.subarray(0, 4)));
        return;
      case FrameType.GoAway:
        this.goneAway = true;
        return;
      default:
        // SETTINGS, WINDOW_UPDATE and anything newer: nothing to do
        return;
    }
  }

  private onClosed(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    for (const stream of this.streams.values()) stream.connectionClosed();
    this.streams.clear();
    this.emit('close');
  }
}
