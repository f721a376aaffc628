import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { listenUnix, SocketFile } from '../../../util/unix-socket.js';
import { encodeFrame, FrameDecoder, isOversized, MAX_MESSAGE_LENGTH, MessageType } from './frame.js';
import { decodeRequest, encodeResponse, type Metadata } from './messages.js';
import { peerCredentials, type PeerCredentials } from './peer-credentials.js';
import { Code, statusFromError, TtrpcError, type Status } from './status.js';

/** What a handler knows about its call. */
export interface CallContext {
  readonly service: string;
  readonly method: string;
  readonly metadata: Metadata;
  /** Date.now() value after which the caller has given up (from timeout_nano); undefined: none. */
  readonly deadline?: number;
  /** Aborted when the deadline passes or the connection closes. */
  readonly signal: AbortSignal;
  /** The peer, when the server checks peers. */
  readonly peer?: PeerCredentials;
}

/** Decodes its request bytes, answers with encoded response bytes, or throws (the error becomes a status). */
export type UnaryHandler = (payload: Buffer, context: CallContext) => Uint8Array | Promise<Uint8Array>;

export interface ServerOptions {
  /** Checked on every new connection: a string is the reason to refuse it (the connection is closed). */
  readonly authorize?: (peer: PeerCredentials) => string | undefined;
  /** Refused connections, failed writes: things worth a log line, never a crash. */
  readonly onError?: (err: Error) => void;
  /** Called each time the last open connection closes (a shim hears its daemon go). */
  readonly onLastConnectionClosed?: () => void;
}

/**
 * A ttrpc 1.1 server: services registered by full proto name with methods by bare name. Each
 * request is handled concurrently and answered on its stream id as soon as it is done.
 */
export class TtrpcServer {
  private readonly services = new Map<string, ReadonlyMap<string, UnaryHandler>>();
  /** Each listener, with the socket file it owns (none for an inherited one whose path is not known). */
  private readonly listeners = new Map<Server, SocketFile | undefined>();
  private readonly connections = new Set<ServerConnection>();

  /** How many peers are connected now. */
  get connectionCount(): number {
    return this.connections.size;
  }
  private closing = false;

  constructor(private readonly options: ServerOptions = {}) {}

  register(service: string, methods: Readonly<Record<string, UnaryHandler>>): void {
    if (this.services.has(service)) throw new Error(`duplicate service ${service} registered`);
    this.services.set(service, new Map(Object.entries(methods)));
  }

  /**
   * Listens on a unix socket file (an existing file there is replaced), mode 0600 unless told;
   * its directory is created 0700 if missing. The file is removed by close() or
   * removeSocketFiles(), only while it is still the one bound here.
   */
  async listen(path: string, options: { mode?: number } = {}): Promise<void> {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    rmSync(path, { force: true });
    // bound by us, not by node, which would unlink `path` on close even once it is another server's
    const fd = listenUnix(path);
    chmodSync(path, options.mode ?? 0o600);
    const file = new SocketFile(path);
    this.listeners.set(await this.startListener((s) => s.listen({ fd })), file);
  }

  /** Serves a listening socket inherited as a file descriptor (a shim's fd 3), bound at `path` if known. */
  async listenFd(fd: number, path?: string): Promise<void> {
    const file = path ? SocketFile.find(path) : undefined;
    this.listeners.set(await this.startListener((s) => s.listen({ fd })), file);
  }

  /**
   * Removes the socket files now, while still listening: new dials find no file (and a new server
   * may bind the path), connections already made or queued are served until close().
   */
  removeSocketFiles(): void {
    for (const file of this.listeners.values()) file?.remove();
  }

  /** Serves one already connected socket. */
  serve(socket: Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    let peer: PeerCredentials | undefined;
    if (this.options.authorize) {
      try {
        peer = peerCredentials(socket);
        const refusal = this.options.authorize(peer);
        if (refusal) throw new Error(refusal);
      } catch (err) {
        this.options.onError?.(new Error(`ttrpc: refusing connection: ${(err as Error).message}`));
        socket.destroy();
        return;
      }
    }
    const connection = new ServerConnection(socket, peer, (service, method) => this.resolve(service, method), this.options.onError);
    this.connections.add(connection);
    socket.once('close', () => {
      this.connections.delete(connection);
      if (this.connections.size === 0 && !this.closing) this.options.onLastConnectionClosed?.();
    });
  }

  /** Stops accepting, waits for the calls in flight to be answered, then closes every connection. */
  async shutdown(): Promise<void> {
    this.closing = true;
    const listeners = this.closeListeners();
    await Promise.all([...this.connections].map((c) => c.idle()));
    await Promise.all([...this.connections].map((c) => c.close()));
    await listeners;
  }

  /** Stops accepting and closes every connection now (calls in flight see their signal abort). */
  async close(): Promise<void> {
    this.closing = true;
    const listeners = this.closeListeners();
    await Promise.all([...this.connections].map((c) => c.close()));
    await listeners;
  }

  private async startListener(listen: (server: Server) => void): Promise<Server> {
    const server = createServer((socket) => this.serve(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.once('listening', () => {
        server.off('error', reject);
        server.on('error', (err) => this.options.onError?.(err));
        resolve();
      });
      listen(server);
    });
    return server;
  }

  /** Resolves when the listeners are closed, which node reports only after their connections ended. */
  private async closeListeners(): Promise<void> {
    const listeners = [...this.listeners];
    this.listeners.clear();
    await Promise.all(
      listeners.map(async ([server, file]) => {
        await new Promise<void>((resolve) => server.close(() => resolve()));
        file?.remove();
      }),
    );
  }

  private resolve(service: string, method: string): UnaryHandler {
    const methods = this.services.get(service);
    if (!methods) throw new TtrpcError(Code.Unimplemented, `service ${service}`);
    const handler = methods.get(method);
    if (!handler) throw new TtrpcError(Code.Unimplemented, `method ${method}`);
    return handler;
  }
}

/** One accepted connection: reads requests, runs their handlers, writes the responses. */
class ServerConnection {
  private active = 0;
  private idleWaiters: (() => void)[] = [];
  /** One controller per call in flight: aborted by its deadline or by the connection closing. */
  private readonly inFlight = new Set<AbortController>();
  private readonly finished: Promise<void>;

  constructor(
    private readonly socket: Socket,
    private readonly peer: PeerCredentials | undefined,
    private readonly resolve: (service: string, method: string) => UnaryHandler,
    private readonly onError?: (err: Error) => void,
  ) {
    const decoder = new FrameDecoder();
    socket.on('data', (chunk: Buffer) => {
      for (const frame of decoder.push(chunk)) {
        if (isOversized(frame)) {
          this.respond(frame.streamId, { code: Code.ResourceExhausted, message: `message length ${frame.oversized} exceed maximum message size of ${MAX_MESSAGE_LENGTH}` });
        } else if (frame.type === MessageType.Request) {
          this.dispatch(frame.streamId, frame.payload);
        }
        // other message types: ignored, for compatibility with newer peers (as ttrpc 1.1)
      }
    });
    socket.on('error', () => {}); // a reset peer is a closed connection; 'close' follows
    this.finished = new Promise((resolve) =>
      socket.once('close', () => {
        for (const abort of this.inFlight) abort.abort(new Error('ttrpc: connection closed'));
        this.wakeIdle();
        resolve();
      }),
    );
  }

  /** Resolves when no call is in flight (or the connection is gone). */
  idle(): Promise<void> {
    if (this.active === 0 || this.socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  close(): Promise<void> {
    this.socket.destroy();
    return this.finished;
  }

  private dispatch(streamId: number, bytes: Buffer): void {
    let request;
    try {
      request = decodeRequest(bytes);
    } catch (err) {
      this.respond(streamId, { code: Code.InvalidArgument, message: `unmarshal request error: ${(err as Error).message}` });
      return;
    }
    if (streamId % 2 !== 1) {
      this.respond(streamId, { code: Code.InvalidArgument, message: 'StreamID must be odd for client initiated streams' });
      return;
    }
    this.active++;
    const abort = new AbortController();
    this.inFlight.add(abort);
    let deadline: number | undefined;
    let timer: NodeJS.Timeout | undefined;
    if (request.timeoutNano > 0) {
      const ms = request.timeoutNano / 1e6;
      deadline = Date.now() + ms;
      timer = setTimeout(() => abort.abort(new TtrpcError(Code.DeadlineExceeded, 'context deadline exceeded')), Math.ceil(ms)).unref();
    }
    const context: CallContext = { service: request.service, method: request.method, metadata: request.metadata, deadline, signal: abort.signal, peer: this.peer };
    const payload = Buffer.isBuffer(request.payload) ? request.payload : Buffer.from(request.payload);
    void (async () => {
      try {
        const handler = this.resolve(request.service, request.method);
        this.respond(streamId, undefined, await handler(payload, context));
      } catch (err) {
        this.respond(streamId, statusFromError(err));
      } finally {
        clearTimeout(timer);
        this.inFlight.delete(abort);
        this.active--;
        if (this.active === 0) this.wakeIdle();
      }
    })();
  }

  private respond(streamId: number, status: Status | undefined, payload: Uint8Array = new Uint8Array(0)): void {
    if (this.socket.destroyed) return;
    let bytes = encodeResponse({ status, payload });
    if (bytes.length > MAX_MESSAGE_LENGTH) {
      bytes = encodeResponse({ status: { code: Code.ResourceExhausted, message: `message length ${bytes.length} exceed maximum message size of ${MAX_MESSAGE_LENGTH}` }, payload: new Uint8Array(0) });
    }
    this.socket.write(encodeFrame(streamId, MessageType.Response, bytes), (err) => {
      if (err) this.onError?.(new Error(`ttrpc: failed sending message on channel: ${err.message}`));
    });
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }
}
