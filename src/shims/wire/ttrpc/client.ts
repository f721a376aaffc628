import { connect as netConnect, type Socket } from 'node:net';
import { encodeFrame, FrameDecoder, isOversized, MAX_MESSAGE_LENGTH, MessageType } from './frame.js';
import { decodeResponse, encodeRequest, toMetadata, type MetadataInit } from './messages.js';
import { canceled, Code, deadlineExceeded, TtrpcClosedError, TtrpcError } from './status.js';

export interface CallOptions {
  /** A deadline for the call: sent as timeout_nano and enforced here. */
  readonly timeoutMs?: number;
  readonly metadata?: MetadataInit;
  readonly signal?: AbortSignal;
}

/**
 * Watches the calls of a client (the daemon's metrics and tracing): called as a call starts, it
 * returns what to call when the call ends, with the error it ended with.
 */
export type CallObserver = (service: string, method: string) => (error: Error | undefined) => void;

export interface ClientOptions {
  readonly timeoutMs?: number;
  readonly observe?: CallObserver;
}

interface PendingCall {
  resolve(payload: Buffer): void;
  reject(err: Error): void;
}

/** Client streams are odd and go up by two (ttrpc/client.go); uint32 wraps back to 1. */
const FIRST_STREAM_ID = 1;
const LAST_STREAM_ID = 0xffffffff;

/** Dials a unix socket path; rejects after timeoutMs. */
export function dialUnix(path: string, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(path);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`dial unix ${path}: timeout after ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`dial unix ${path}: ${err.message}`, { cause: err }));
    });
  });
}

/**
 * A ttrpc 1.1 client on one connection: unary calls, any number in flight, answered in any
 * order and matched by stream id. When the connection ends every pending call fails with
 * TtrpcClosedError and the close listeners run (ttrpc's WithOnClose).
 */
export class TtrpcClient {
  private nextStreamId = FIRST_STREAM_ID;
  private readonly pending = new Map<number, PendingCall>();
  private readonly closeListeners = new Set<(cause?: Error) => void>();
  private closeError: Error | undefined;
  private readonly finished: Promise<void>;

  static async connect(path: string, options: ClientOptions = {}): Promise<TtrpcClient> {
    return new TtrpcClient(await dialUnix(path, options.timeoutMs ?? 100_000), options.observe);
  }

  constructor(
    private readonly socket: Socket,
    private readonly observe?: CallObserver,
  ) {
    const decoder = new FrameDecoder();
    socket.setNoDelay?.(true);
    socket.on('data', (chunk: Buffer) => {
      for (const frame of decoder.push(chunk)) {
        if (isOversized(frame)) {
          this.settle(frame.streamId, new TtrpcError(Code.ResourceExhausted, `message length ${frame.oversized} exceed maximum message size of ${MAX_MESSAGE_LENGTH}`));
        } else if (frame.type !== MessageType.Response) {
          // not a ttrpc 1.1 server (or one gone wrong): nothing it sends can be trusted, every call fails
          socket.destroy(new Error(`protocol error: message type ${frame.type} from the server, which sends responses only`));
          return;
        } else {
          this.answer(frame.streamId, frame.payload);
        }
      }
    });
    let cause: Error | undefined;
    socket.on('error', (err) => (cause = err));
    this.finished = new Promise((resolve) => {
      socket.once('close', () => {
        this.closeError = new TtrpcClosedError(cause ? { cause } : undefined);
        for (const call of this.pending.values()) call.reject(this.closeError);
        this.pending.clear();
        for (const listener of this.closeListeners) {
          try {
            listener(cause);
          } catch {
            // a listener's failure is its own; the others still run
          }
        }
        resolve();
      });
    });
  }

  get closed(): boolean {
    return this.closeError !== undefined;
  }

  /** Runs when the connection ends, whoever ended it; returns the unsubscribe. */
  onClose(listener: (cause?: Error) => void): () => void {
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  /** One unary call with an encoded request; resolves with the encoded response message. */
  call(service: string, method: string, payload: Uint8Array, options: CallOptions = {}): Promise<Buffer> {
    if (this.closeError) return Promise.reject(this.closeError);
    if (options.signal?.aborted) return Promise.reject(canceled());
    const request = encodeRequest({
      service,
      method,
      payload,
      timeoutNano: options.timeoutMs !== undefined ? Math.max(1, Math.round(options.timeoutMs * 1e6)) : 0,
      metadata: toMetadata(options.metadata),
    });
    // ttrpc 1.1 sends whatever it is given and the server drops it; failing here says why at once.
    if (request.length > MAX_MESSAGE_LENGTH) {
      return Promise.reject(new TtrpcError(Code.ResourceExhausted, `message length ${request.length} exceed maximum message size of ${MAX_MESSAGE_LENGTH}`));
    }
    const streamId = this.nextStreamId;
    this.nextStreamId = streamId + 2 > LAST_STREAM_ID ? FIRST_STREAM_ID : streamId + 2;
    const ended = this.observe?.(service, method);
    return new Promise<Buffer>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const onAbort = () => this.settle(streamId, canceled());
      const done = (err?: Error) => {
        if (timer) clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        ended?.(err);
      };
      this.pending.set(streamId, {
        resolve: (response) => (done(), resolve(response)),
        reject: (err) => (done(err), reject(err)),
      });
      if (options.timeoutMs !== undefined) timer = setTimeout(() => this.settle(streamId, deadlineExceeded()), options.timeoutMs);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.socket.write(encodeFrame(streamId, MessageType.Request, request));
    });
  }

  /** Ends the connection; resolves once pending calls have failed and the close listeners ran. */
  close(): Promise<void> {
    this.socket.destroy();
    return this.finished;
  }

  private answer(streamId: number, bytes: Buffer): void {
    const call = this.pending.get(streamId);
    if (!call) return; // an answer after the caller gave up (deadline, abort): dropped, as ttrpc does
    this.pending.delete(streamId);
    let response;
    try {
      response = decodeResponse(bytes);
    } catch (err) {
      call.reject(new TtrpcError(Code.Internal, `unmarshal response error: ${(err as Error).message}`));
      return;
    }
    if (response.status && response.status.code !== Code.OK) {
      call.reject(new TtrpcError(response.status.code, response.status.message, response.status.details));
    } else {
      call.resolve(Buffer.isBuffer(response.payload) ? response.payload : Buffer.from(response.payload));
    }
  }

  private settle(streamId: number, err: Error): void {
    const call = this.pending.get(streamId);
    if (!call) return;
    this.pending.delete(streamId);
    call.reject(err);
  }
}
