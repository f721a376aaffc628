// Port forwarding over SPDY (kubelet's portforward httpstream.go, protocol portforward.k8s.io):
// for each connection it forwards, the client opens two streams with the same requestID header,
// an error stream and a data stream, both naming the pod's port in a port header. The data
// stream carries the bytes both ways; a failure is written as text on the error stream.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { RstStatus } from './spdy/frames.js';
import type { SpdyStream } from './spdy/session.js';
import { upgradeToSpdy } from './spdy/upgrade.js';
import type { TransportTimeouts } from './spdy-command.js';

export const PORT_FORWARD_PROTOCOLS = ['portforward.k8s.io'] as const;

/** Connects `data` to `port` in the pod until either side is done; rejects if it cannot connect. */
export type PortForwarder = (port: number, data: Duplex) => Promise<void>;

interface StreamPair {
  error?: SpdyStream;
  data?: SpdyStream;
  readonly timer: NodeJS.Timeout;
}

export function servePortForwardSpdy(req: IncomingMessage, socket: Duplex, head: Buffer, podId: string, forward: PortForwarder, timeouts: TransportTimeouts): void {
  const upgraded = upgradeToSpdy(req, socket, head, PORT_FORWARD_PROTOCOLS, timeouts.idleTimeoutMs);
  if (!upgraded) return;
  const { session } = upgraded;
  const pairs = new Map<string, StreamPair>();

  session.on('stream', (stream: SpdyStream) => {
    const port = Number(stream.headers.port);
    const type = stream.headers.streamtype;
    if (!Number.isInteger(port) || port < 1 || port > 65535 || (type !== 'error' && type !== 'data')) return stream.reset(RstStatus.ProtocolError);
    stream.accept();
    stream.on('error', () => undefined);
    if (type === 'error') stream.resume(); // nothing reads what a client would send there
    // clients before request ids: an error stream and its data stream have consecutive odd ids
    const requestId = stream.headers.requestid || String(type === 'error' ? stream.id : stream.id - 2);
    let pair = pairs.get(requestId);
    if (!pair) {
      const timer = setTimeout(() => {
        pairs.delete(requestId);
        pair?.error?.end(`timed out waiting for streams of request ${requestId}`);
        pair?.data?.end();
      }, timeouts.streamCreationTimeoutMs);
      pair = { timer };
      pairs.set(requestId, pair);
    }
    if (pair[type]) {
      (pair.error ?? stream).write(`error processing stream for request ${requestId}: ${type} stream already assigned`);
      return;
    }
    pair[type] = stream;
    if (!pair.error || !pair.data) return;
    clearTimeout(pair.timer);
    pairs.delete(requestId);
    const { error, data } = pair;
    forward(port, data)
      .catch((err: Error) => void error.write(`error forwarding port ${port} to pod ${podId}, uid : ${err.message}`))
      .finally(() => {
        error.end();
        data.end();
      });
  });
  session.on('close', () => {
    for (const pair of pairs.values()) clearTimeout(pair.timer);
    pairs.clear();
  });
}
