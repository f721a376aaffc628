// The CRI streaming server (kubelet's pkg/kubelet/cri/streaming, as containerd's CRI runs it):
// Exec, Attach and PortForward leave their request here under a one-time token and answer with
// the URL `<base>/{exec,attach,portforward}/<token>`; the client then opens that URL with an
// HTTP upgrade to SPDY/3.1 or to a websocket and the session runs over it.
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { invalidArgument } from '../../util/errdefs.js';
import type { CommandSession, StreamOptions } from './command-session.js';
import { RequestCache } from './request-cache.js';
import type { CriStreamRuntime } from './runtime.js';
import type { AttachRequest, ExecRequest, PortForwardRequest, StreamingServer } from './server.js';
import { openSpdyCommand } from './spdy-command.js';
import { servePortForwardSpdy } from './spdy-port-forward.js';
import { refuse } from './spdy/upgrade.js';
import { isWebSocketUpgrade, openWebSocketCommand } from './websocket-command.js';

export interface StreamServerOptions {
  /** Address to listen on; also the host in the URLs. */
  readonly address: string;
  /** Port to listen on; 0 picks a free one. */
  readonly port: number;
  /** A connection without traffic for this long is closed (0: never). */
  readonly idleTimeoutMs: number;
  /** How long a client has to open its SPDY streams after the upgrade. */
  readonly streamCreationTimeoutMs: number;
  /** Serve https with this certificate and key (PEM). */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
}

type Pending = { kind: 'exec'; request: ExecRequest } | { kind: 'attach'; request: AttachRequest } | { kind: 'portforward'; request: PortForwardRequest };

function streamOptions(request: { tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }, field: string): StreamOptions {
  if (request.tty && request.stderr) throw invalidArgument(`${field}: tty and stderr cannot both be true`);
  if (!request.stdin && !request.stdout && !request.stderr) throw invalidArgument(`${field}: one of stdin, stdout, or stderr must be set`);
  return { stdin: request.stdin, stdout: request.stdout, stderr: request.stderr, tty: request.tty };
}

export class CriStreamServer implements StreamingServer {
  private readonly cache = new RequestCache<Pending>();
  private readonly server: Server;
  private readonly sockets = new Set<Duplex>();
  private baseUrl = '';

  constructor(
    private readonly options: StreamServerOptions,
    private readonly runtime: CriStreamRuntime,
  ) {
    const onRequest = (req: IncomingMessage, res: ServerResponse) => this.onPlainRequest(req, res);
    this.server = options.tls ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, onRequest) : createHttpServer(onRequest);
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      socket.on('error', () => undefined);
      this.onUpgrade(req, socket, head).catch(() => socket.destroy());
    });
  }

  /** Listens; the URLs handed out name the address and the port actually bound. */
  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.address, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const { port } = this.server.address() as AddressInfo;
    const host = this.options.address.includes(':') ? `[${this.options.address}]` : this.options.address;
    this.baseUrl = `${this.options.tls ? 'https' : 'http'}://${host}:${port}`;
  }

  /** Stops listening and ends every open session. */
  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  get url(): string {
    return this.baseUrl;
  }

  async getExec(request: ExecRequest): Promise<string> {
    streamOptions(request, 'exec request');
    if (request.cmd.length === 0) throw invalidArgument('cmd: must name a command');
    return this.urlFor('exec', { kind: 'exec', request });
  }

  async getAttach(request: AttachRequest): Promise<string> {
    streamOptions(request, 'attach request');
    return this.urlFor('attach', { kind: 'attach', request });
  }

  async getPortForward(request: PortForwardRequest): Promise<string> {
    for (const port of request.ports) if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalidArgument(`port: ${port} is not a TCP port (1-65535)`);
    return this.urlFor('portforward', { kind: 'portforward', request });
  }

  private urlFor(kind: Pending['kind'], pending: Pending): string {
    if (!this.baseUrl) throw new Error('the streaming server is not listening');
    return `${this.baseUrl}/${kind}/${this.cache.insert(pending)}`;
  }

  private route(url: string | undefined): { kind: string; token: string } | undefined {
    const match = /^\/(exec|attach|portforward)\/([^/?]+)(\?.*)?$/.exec(url ?? '');
    return match ? { kind: match[1]!, token: match[2]! } : undefined;
  }

  private onPlainRequest(req: IncomingMessage, res: ServerResponse): void {
    const route = this.route(req.url);
    if (!route || (req.method !== 'GET' && req.method !== 'POST') || !this.cache.consume(route.token)) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('404 page not found\n');
      return;
    }
    res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8' }).end('unable to upgrade: missing upgrade headers in request\n');
  }

  private async onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const route = this.route(req.url);
    const pending = route && (req.method === 'GET' || req.method === 'POST') ? this.cache.consume(route.token) : undefined;
    if (!route || !pending || pending.kind !== route.kind) return refuse(socket, 404, 'Not Found', '404 page not found');
    const timeouts = { idleTimeoutMs: this.options.idleTimeoutMs, streamCreationTimeoutMs: this.options.streamCreationTimeoutMs };

    if (pending.kind === 'portforward') {
      if (isWebSocketUpgrade(req)) return refuse(socket, 400, 'Bad Request', 'port forwarding over a websocket is not supported: use SPDY/3.1 (portforward.k8s.io)');
      const podId = pending.request.podSandboxId;
      return servePortForwardSpdy(req, socket, head, podId, (port, data) => this.runtime.portForward(podId, port, data), timeouts);
    }

    const options = streamOptions(pending.request, `${pending.kind} request`);
    const session: CommandSession | undefined = isWebSocketUpgrade(req)
      ? await openWebSocketCommand(req, socket, head, options, timeouts.idleTimeoutMs)
      : await openSpdyCommand(req, socket, head, options, timeouts);
    if (!session) return;
    const outcome =
      pending.kind === 'exec'
        ? await this.runtime.exec(pending.request.containerId, pending.request.cmd, session)
        : await this.runtime.attach(pending.request.containerId, session);
    await session.finish(outcome);
  }
}
