// Exec and attach over SPDY (kubelet's remotecommand httpstream.go). The client opens one stream
// per role, named by its streamType header: error, and stdin/stdout/stderr as the request asked,
// and resize for a terminal from v3 on. The server accepts them, and once it has them all the
// command runs. The protocols differ only in the error stream: v4 carries a JSON metav1.Status
// (with the exit code), the older ones the failure's message as text.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { statusJson, statusText, terminalSizes, type CommandOutcome, type CommandSession, type StreamOptions, ResizeEvents } from './command-session.js';
import type { SpdyStream } from './spdy/session.js';
import { upgradeToSpdy } from './spdy/upgrade.js';

export const REMOTE_COMMAND_PROTOCOLS = ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'] as const;

const STREAM_TYPES = ['error', 'stdin', 'stdout', 'stderr', 'resize'] as const;
type StreamType = (typeof STREAM_TYPES)[number];

export interface TransportTimeouts {
  /** How long a connection may go without traffic. */
  readonly idleTimeoutMs: number;
  /** How long the client has to open its streams. */
  readonly streamCreationTimeoutMs: number;
}

/** Upgrades, waits for the client's streams and returns the session; undefined if that failed (the client was told). */
export async function openSpdyCommand(req: IncomingMessage, socket: Duplex, head: Buffer, options: StreamOptions, timeouts: TransportTimeouts): Promise<CommandSession | undefined> {
  const upgraded = upgradeToSpdy(req, socket, head, REMOTE_COMMAND_PROTOCOLS, timeouts.idleTimeoutMs);
  if (!upgraded) return undefined;
  const { session, protocol } = upgraded;
  const resizable = protocol === 'v4.channel.k8s.io' || protocol === 'v3.channel.k8s.io';
  const wanted: StreamType[] = ['error'];
  if (options.stdin) wanted.push('stdin');
  if (options.stdout) wanted.push('stdout');
  if (options.stderr) wanted.push('stderr');
  if (options.tty && resizable) wanted.push('resize');

  const streams = new Map<StreamType, SpdyStream>();
  const complete = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), timeouts.streamCreationTimeoutMs);
    const done = (ok: boolean) => {
      clearTimeout(timer);
      session.off('stream', onStream);
      resolve(ok);
    };
    const onStream = (stream: SpdyStream) => {
      const type = stream.headers.streamtype as StreamType;
      stream.accept();
      // what the client sends on a stream nobody reads is dropped, so that it cannot hold up the connection
      if (type === 'error' || !STREAM_TYPES.includes(type)) stream.resume();
      if (!STREAM_TYPES.includes(type)) return; // kubelet logs it and goes on
      streams.set(type, stream);
      if (wanted.every((t) => streams.has(t))) done(true);
    };
    session.on('stream', onStream);
    void session.closed.then(() => done(false));
  });
  if (!complete) {
    session.close();
    return undefined;
  }

  const error = streams.get('error')!;
  // v1 (1.0 kubelets): the server closes its side of stdin at once
  if (protocol === 'channel.k8s.io') streams.get('stdin')?.end();
  const sizes = new ResizeEvents();
  const resize = streams.get('resize');
  if (resize) resize.on('data', terminalSizes(sizes.emit));
  for (const stream of streams.values()) stream.on('error', () => undefined);

  return {
    tty: options.tty,
    stdin: streams.get('stdin'),
    stdout: streams.get('stdout'),
    stderr: streams.get('stderr'),
    onResize: sizes.listen,
    closed: session.closed,
    async finish(outcome: CommandOutcome) {
      const report = protocol === 'v4.channel.k8s.io' ? statusJson(outcome) : statusText(outcome);
      if (report !== undefined) error.write(report);
      const ours = [error, streams.get('stdout'), streams.get('stderr')].filter((s): s is SpdyStream => s !== undefined);
      await Promise.all(ours.map((stream) => new Promise<void>((resolve) => stream.end(() => resolve()))));
      session.close();
      await session.closed;
    },
  };
}
