// The HTTP side of a SPDY connection (k8s.io/apimachinery httpstream): the client lists the
// protocols it speaks in X-Stream-Protocol-Version, in its order of preference; the server picks
// the first it also speaks, answers 101 Switching Protocols with Upgrade: SPDY/3.1 and that
// protocol, and the socket carries SPDY frames from then on.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { SpdySession } from './session.js';

export const PROTOCOL_HEADER = 'x-stream-protocol-version';
const ACCEPTED_HEADER = 'X-Accepted-Stream-Protocol-Versions';

/** Writes a plain HTTP error on a socket that was not upgraded, and closes it. */
export function refuse(socket: Duplex, status: number, reason: string, message: string, headers: readonly string[] = []): void {
  const body = `${message}\n`;
  socket.end(
    [`HTTP/1.1 ${status} ${reason}`, 'Content-Type: text/plain; charset=utf-8', 'X-Content-Type-Options: nosniff', `Content-Length: ${Buffer.byteLength(body)}`, ...headers, 'Connection: close', '', body].join('\r\n'),
  );
}

export const isSpdyUpgrade = (req: IncomingMessage): boolean =>
  /(^|,)\s*upgrade\s*(,|$)/i.test(req.headers.connection ?? '') && (req.headers.upgrade ?? '').toLowerCase().includes('spdy/3.1');

/** The client's protocols, in its order (several headers or comma-separated values). */
export function clientProtocols(req: IncomingMessage): string[] {
  const raw = req.headers[PROTOCOL_HEADER];
  const values = Array.isArray(raw) ? raw : raw ? [raw] : [];
  return values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
}

/**
 * Negotiates and upgrades; on failure answers the client as kubelet does (400 without the
 * protocol header or upgrade headers, 403 when no protocol is shared) and returns undefined.
 */
export function upgradeToSpdy(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  serverProtocols: readonly string[],
  idleTimeoutMs: number,
): { session: SpdySession; protocol: string } | undefined {
  if (!isSpdyUpgrade(req)) {
    refuse(socket, 400, 'Bad Request', 'unable to upgrade: missing upgrade headers in request');
    return undefined;
  }
  const offered = clientProtocols(req);
  if (offered.length === 0) {
    refuse(socket, 400, 'Bad Request', `unable to upgrade: ${PROTOCOL_HEADER} is required`);
    return undefined;
  }
  const protocol = offered.find((p) => serverProtocols.includes(p));
  if (!protocol) {
    refuse(
      socket,
      403,
      'Forbidden',
      `unable to upgrade: unable to negotiate protocol: client supports [${offered.join(' ')}], server accepts [${serverProtocols.join(' ')}]`,
      serverProtocols.map((p) => `${ACCEPTED_HEADER}: ${p}`),
    );
    return undefined;
  }
  socket.write(['HTTP/1.1 101 Switching Protocols', 'Connection: Upgrade', 'Upgrade: SPDY/3.1', `X-Stream-Protocol-Version: ${protocol}`, '', ''].join('\r\n'));
  return { session: new SpdySession(socket, head, { idleTimeoutMs }), protocol };
}
