import { createServer, type Server, type Socket } from 'node:net';
import { chmodSync, rmSync } from 'node:fs';
import { decodeRequest, encodeResponse, type Request } from './wire.js';
import { encodeFrame, FrameReader, MAX_MESSAGE_SIZE, MESSAGE_REQUEST, MESSAGE_RESPONSE } from './channel.js';
import { Code, TtrpcError } from './errors.js';
import { peerCredentials, sameUser, type PeerCredentials } from './peer.js';

export interface CallContext {
  readonly service: string;
  readonly method: string;
  /** Keys lower-cased; a key may repeat. */
  readonly metadata: Readonly<Record<string, string[]>>;
  /** Aborted at the caller's deadline or when the connection closes. */
  readonly signal: AbortSignal;
}

export type Handler = (payload: Buffer, ctx: CallContext) => Promise<Uint8Array> | Uint8Array;

export interface ServeOptions {
  /** Which peers may talk to this server (default: same uid and gid, as ttrpc's servers). */
  readonly allowPeer?: (peer: PeerCredentials | undefined) => boolean;
}

/** An error's status: a numeric `code` it carries (TtrpcError, StatusError), else Unknown. */
function statusOf(err: unknown): { code: number; message: string } {
  const code = (err as { code?: unknown })?.code;
  const message = err instanceof Error ? err.message : String(err);
  return { code: typeof code === 'number' && code > 0 ? code : Code.Unknown, message };
}

/** A ttrpc server: services by full name, methods by bare name, each call handled concurrently. */
export class TtrpcServer {
  private readonly services = new Map<string, Record<string, Handler>>();
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;
  private path: string | undefined;

  register(service: string, methods: Record<string, Handler>): this {
    this.services.set(service, methods);
    return this;
  }

  /** Listens on a unix socket file (mode 0600, replacing a stale one). */
  listen(path: string, options: ServeOptions = {}): Promise<void> {
    rmSync(path, { force: true });
    this.path = path;
    this.server = createServer((socket) => this.serve(socket, options));
    return new Promise((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(path, () => {
        chmodSync(path, 0o600);
        resolve();
      });
    });
  }

  /** Serves one accepted connection. */
  serve(socket: Socket, options: ServeOptions = {}): void {
    const allow = options.allowPeer ?? sameUser;
    if (!allow(peerCredentials(socket))) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    const closed = new AbortController();
    const reader = new FrameReader();
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.sockets.delete(socket);
      closed.abort(new Error('connection closed'));
    });
    socket.on('data', (chunk: Buffer) => {
      for (const frame of reader.push(chunk)) {
        if (frame.type !== MESSAGE_REQUEST) continue;
        const reply = (status: { code: number; message: string } | undefined, payload: Uint8Array = Buffer.alloc(0)) => {
          if (socket.destroyed) return;
          let body = encodeResponse({ status, payload });
          if (body.length > MAX_MESSAGE_SIZE) {
            body = encodeResponse({ status: { code: Code.ResourceExhausted, message: `message length ${body.length} exceed maximum message size of ${MAX_MESSAGE_SIZE}` }, payload: Buffer.alloc(0) });
          }
          socket.write(encodeFrame(frame.streamId, MESSAGE_RESPONSE, body));
        };
        if (frame.oversize) {
          reply({ code: Code.ResourceExhausted, message: `message length ${frame.oversize} exceed maximum message size of ${MAX_MESSAGE_SIZE}` });
          continue;
        }
        if (frame.streamId % 2 === 0) {
          reply({ code: Code.InvalidArgument, message: 'StreamID must be odd for client initiated streams' });
          continue;
        }
        let request: Request;
        try {
          request = decodeRequest(frame.payload);
        } catch (err) {
          reply({ code: Code.InvalidArgument, message: `unmarshal request error: ${(err as Error).message}` });
          continue;
        }
        void this.dispatch(request, closed.signal).then(
          (payload) => reply(undefined, payload),
          (err) => reply(statusOf(err)),
        );
      }
    });
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    if (this.path) rmSync(this.path, { force: true });
  }

  private async dispatch(request: Request, closed: AbortSignal): Promise<Uint8Array> {
    const service = this.services.get(request.service);
    if (!service) throw new TtrpcError(Code.Unimplemented, `service ${request.service}`);
    const handler = service[request.method];
    if (!handler) throw new TtrpcError(Code.Unimplemented, `method ${request.method}`);
    const metadata: Record<string, string[]> = {};
    for (const { key, value } of request.metadata) (metadata[key.toLowerCase()] ??= []).push(value);
    const signals = [closed];
    if (request.timeoutNano > 0n) signals.push(AbortSignal.timeout(Number(request.timeoutNano / 1_000_000n)));
    return handler(request.payload as Buffer, { service: request.service, method: request.method, metadata, signal: AbortSignal.any(signals) });
  }
}
