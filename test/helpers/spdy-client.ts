// A small client of the CRI streaming server for tests, speaking what client-go's SPDY executor
// and port forwarder speak: an HTTP upgrade to SPDY/3.1 with X-Stream-Protocol-Version, then
// streams the client opens (SYN_STREAM, odd ids) that the server accepts (SYN_REPLY). Framing
// and header compression come from the daemon's own module; that these interoperate with the
// Go clients (moby/spdystream) is what crictl and critest show.
import { connect, type Socket } from 'node:net';
import { controlFrame, dataFrame, FLAG_FIN, FrameReader, FrameType, HeaderDecoder, HeaderEncoder, uint32s } from '../../src/cri/streaming/spdy/frames.js';

export interface ClientStream {
  readonly id: number;
  /** Everything the server sent on it, once it sent FIN or RST (or the connection ended). */
  readonly received: Promise<Buffer>;
  /** Resolves when the server accepted the stream. */
  readonly replied: Promise<void>;
  /** Data as it arrives. */
  onData(listener: (chunk: Buffer) => void): void;
  write(data: Buffer | string): void;
  /** FIN: our side is done. */
  end(): void;
}

/** Opens the TCP connection (a test whose server lives in another network namespace dials into it). */
export type Dial = (host: string, port: number) => Promise<Socket>;

const dialDirect: Dial = (host, port) =>
  new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    socket.once('connect', () => resolve(socket)).once('error', reject);
  });

export interface UpgradeResult {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

export class SpdyClient {
  private readonly reader = new FrameReader();
  private readonly encoder = new HeaderEncoder();
  private readonly decoder = new HeaderDecoder();
  private nextId = 1;
  private readonly streams = new Map<number, { chunks: Buffer[]; done: () => void; replied: () => void; listeners: ((c: Buffer) => void)[] }>();
  readonly closed: Promise<void>;

  private constructor(private readonly socket: Socket) {
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    void this.closed.then(() => this.streams.forEach((s) => s.done()));
  }

  /** Opens `url` with an upgrade; returns the client, or the server's answer when it did not switch protocols. */
  static async connect(url: string, protocols: readonly string[], dial: Dial = dialDirect): Promise<{ client?: SpdyClient; response: UpgradeResult }> {
    const target = new URL(url);
    const socket = await dial(target.hostname, Number(target.port));
    socket.write(
      [
        `POST ${target.pathname} HTTP/1.1`,
        `Host: ${target.host}`,
        'Connection: Upgrade',
        'Upgrade: SPDY/3.1',
        ...protocols.map((p) => `X-Stream-Protocol-Version: ${p}`),
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
    );
    let buffered = Buffer.alloc(0);
    const headEnd = await new Promise<number>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        const at = buffered.indexOf('\r\n\r\n');
        if (at < 0) return;
        socket.off('data', onData);
        socket.pause();
        resolve(at + 4);
      };
      socket.on('data', onData).once('error', reject);
    });
    const [statusLine, ...lines] = buffered.subarray(0, headEnd - 4).toString('latin1').split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim().toLowerCase();
      headers[name] = headers[name] ? `${headers[name]}, ${line.slice(colon + 1).trim()}` : line.slice(colon + 1).trim();
    }
    const status = Number(statusLine!.split(' ')[1]);
    if (status !== 101) {
      socket.resume();
      const rest = await new Promise<Buffer>((resolve) => {
        const chunks: Buffer[] = [buffered.subarray(headEnd)];
        socket.on('data', (c: Buffer) => chunks.push(c)).once('close', () => resolve(Buffer.concat(chunks)));
      });
      return { response: { status, headers, body: rest.toString() } };
    }
    const client = new SpdyClient(socket);
    socket.on('data', (chunk: Buffer) => client.onBytes(chunk));
    socket.on('error', () => undefined);
    const rest = buffered.subarray(headEnd);
    if (rest.length > 0) client.onBytes(rest);
    socket.resume();
    return { client, response: { status, headers, body: '' } };
  }

  openStream(headers: Record<string, string>): ClientStream {
    const id = this.nextId;
    this.nextId += 2;
    let done!: () => void;
    let replied!: () => void;
    const state = { chunks: [] as Buffer[], done: () => done(), replied: () => replied(), listeners: [] as ((c: Buffer) => void)[] };
    const received = new Promise<Buffer>((resolve) => (done = () => resolve(Buffer.concat(state.chunks))));
    const repliedPromise = new Promise<void>((resolve) => (replied = resolve));
    this.streams.set(id, state);
    const block = this.encoder.encode(headers);
    this.socket.write(controlFrame(FrameType.SynStream, 0, Buffer.concat([uint32s(id, 0), Buffer.from([0, 0]), block])));
    return {
      id,
      received,
      replied: repliedPromise,
      onData: (listener) => void state.listeners.push(listener),
      write: (data) => void this.socket.write(dataFrame(id, Buffer.from(data), false)),
      end: () => void this.socket.write(dataFrame(id, Buffer.alloc(0), true)),
    };
  }

  ping(id: number): void {
    this.socket.write(controlFrame(FrameType.Ping, 0, uint32s(id)));
  }

  close(): void {
    this.socket.destroy();
  }

  /** Control frames the server sent that this client does not act on (GOAWAY, PING replies), by type. */
  readonly seen: number[] = [];

  private onBytes(chunk: Buffer): void {
    for (const frame of this.reader.push(chunk)) {
      if (!frame.control) {
        const stream = this.streams.get(frame.streamId);
        if (!stream) continue;
        if (frame.data.length > 0) {
          stream.chunks.push(Buffer.from(frame.data));
          stream.listeners.forEach((l) => l(frame.data));
        }
        if (frame.flags & FLAG_FIN) stream.done();
        continue;
      }
      this.seen.push(frame.type);
      const id = frame.payload.readUInt32BE(0) & 0x7fffffff;
      if (frame.type === FrameType.SynReply) {
        this.decoder.decode(frame.payload.subarray(4));
        this.streams.get(id)?.replied();
      } else if (frame.type === FrameType.RstStream) this.streams.get(id)?.done();
    }
  }
}
