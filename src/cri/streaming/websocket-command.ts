// Exec and attach over a websocket (kubelet's remotecommand websocket.go, apiserver's wsstream):
// every message starts with its channel, 0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize. With
// "channel.k8s.io" (and no subprotocol) messages are binary and the channel is a byte; with
// "base64.channel.k8s.io" they are text, the channel an ASCII digit and the data base64. The v4
// variants carry a JSON metav1.Status on the error channel, the others the failure as text.
import type { IncomingMessage } from 'node:http';
import { PassThrough, Writable, type Duplex } from 'node:stream';
import type { WebSocket, WebSocketServer } from 'ws';
import { statusJson, statusText, terminalSizes, type CommandOutcome, type CommandSession, type StreamOptions, ResizeEvents } from './command-session.js';
import { refuse } from './spdy/upgrade.js';

const PROTOCOLS: Readonly<Record<string, { binary: boolean; v4: boolean }>> = {
  'channel.k8s.io': { binary: true, v4: false },
  'base64.channel.k8s.io': { binary: false, v4: false },
  'v4.channel.k8s.io': { binary: true, v4: true },
  'v4.base64.channel.k8s.io': { binary: false, v4: true },
};

const Channel = { stdin: 0, stdout: 1, stderr: 2, error: 3, resize: 4 } as const;

export const isWebSocketUpgrade = (req: IncomingMessage): boolean =>
  (req.headers.upgrade ?? '').toLowerCase() === 'websocket' && /(^|,)\s*upgrade\s*(,|$)/i.test(req.headers.connection ?? '');

/** ws is loaded with the first websocket exec or attach: a daemon that serves none never needs it. */
let server: WebSocketServer | undefined;
async function webSocketServer(): Promise<WebSocketServer> {
  const { WebSocketServer } = await import('ws');
  return (server ??= new WebSocketServer({ noServer: true, perMessageDeflate: false, handleProtocols: (offered) => [...offered].find((p) => p in PROTOCOLS) ?? false }));
}

export async function openWebSocketCommand(req: IncomingMessage, socket: Duplex, head: Buffer, options: StreamOptions, idleTimeoutMs: number): Promise<CommandSession | undefined> {
  const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim()).filter(Boolean);
  if (offered.length > 0 && !offered.some((p) => p in PROTOCOLS)) {
    refuse(socket, 400, 'Bad Request', `requested protocol(s) are not supported: [${offered.join(' ')}]; supports [${Object.keys(PROTOCOLS).join(' ')}]`);
    return undefined;
  }
  const upgrader = await webSocketServer();
  const ws = await new Promise<WebSocket>((resolve) => upgrader.handleUpgrade(req, socket, head, resolve));
  const { binary, v4 } = PROTOCOLS[ws.protocol] ?? { binary: true, v4: false };
  if (idleTimeoutMs > 0) (socket as Duplex & { setTimeout(ms: number, cb: () => void): void }).setTimeout(idleTimeoutMs, () => ws.terminate());
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));

  const send = (channel: number, data: Buffer, done?: (err?: Error) => void) => {
    if (ws.readyState !== ws.OPEN) return done?.();
    if (binary) ws.send(Buffer.concat([Buffer.of(channel), data]), { binary: true }, done);
    else ws.send(String.fromCharCode(48 + channel) + data.toString('base64'), { binary: false }, done);
  };
  const outputChannel = (channel: number) => new Writable({ write: (chunk: Buffer, _e, done) => send(channel, chunk, () => done()) });

  const stdin = options.stdin ? new PassThrough() : undefined;
  const sizes = new ResizeEvents();
  const resize = terminalSizes(sizes.emit);
  ws.on('message', (message: Buffer | string) => {
    const raw = Buffer.isBuffer(message) ? message : Buffer.from(message);
    if (raw.length === 0) return;
    const channel = binary ? raw[0] : raw[0] - 48;
    const data = binary ? raw.subarray(1) : Buffer.from(raw.subarray(1).toString('latin1'), 'base64');
    if (channel === Channel.stdin && stdin && !stdin.writableEnded && !stdin.write(data)) {
      ws.pause();
      stdin.once('drain', () => ws.resume());
    } else if (channel === Channel.resize) resize(data);
  });
  ws.on('error', () => undefined);
  void closed.then(() => stdin?.end());

  const stdout = options.stdout ? outputChannel(Channel.stdout) : undefined;
  const stderr = options.stderr && !options.tty ? outputChannel(Channel.stderr) : undefined;
  // an empty message on the lowest channel we write tells the client the connection is up
  send(stdout ? Channel.stdout : stderr ? Channel.stderr : Channel.error, Buffer.alloc(0));

  return {
    tty: options.tty,
    stdin,
    stdout,
    stderr,
    onResize: sizes.listen,
    closed,
    async finish(outcome: CommandOutcome) {
      await Promise.all([stdout, stderr].map((w) => w && new Promise<void>((resolve) => w.end(() => resolve()))));
      const report = v4 ? statusJson(outcome) : statusText(outcome);
      if (report !== undefined) await new Promise<void>((resolve) => send(Channel.error, Buffer.from(report), () => resolve()));
      ws.close(1000);
      setTimeout(() => ws.terminate(), 5000).unref();
      await closed;
    },
  };
}
