// A real nats-server with JetStream for the export tests: on 127.0.0.1, a random port, a store
// directory of the test's own; it can be killed and started again on the same port and store.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type StoredMsg } from '@nats-io/jetstream';
import { tempDir } from './tmp.js';

export interface TestNatsServer {
  readonly url: string;
  readonly port: number;
  /** SIGKILL: the crash case. */
  kill(): Promise<void>;
  /** Start again on the same port and store. */
  start(): Promise<void>;
  /** SIGSTOP or SIGCONT: a server that holds its connections and answers nothing. */
  signal(signal: 'SIGSTOP' | 'SIGCONT'): void;
  /** Every message of a stream, in stream order. */
  messages(stream: string): Promise<StoredMsg[]>;
}

/** Starts nats-server; `port` 0 picks a free one. `running: false` only reserves the port and store. */
export async function startNatsServer(t: TestContext, options: { port?: number; running?: boolean } = {}): Promise<TestNatsServer> {
  const dir = tempDir(t, 'ledgerd-nats-');
  let port = options.port ?? 0;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const clients: NatsConnection[] = [];

  const start = async () => {
    const args = ['-js', '-a', '127.0.0.1', '-p', String(port || -1), '-sd', join(dir, 'store')];
    const process = spawn('nats-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = process;
    exited = new Promise((resolve) => process.once('exit', () => resolve()));
    let output = '';
    port = await new Promise<number>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        // JetStream is up once the server listens for clients
        const listening = /Listening for client connections on 127\.0\.0\.1:(\d+)/.exec(output);
        if (listening && /Server is ready/.test(output)) resolve(Number(listening[1]));
      };
      process.stdout!.on('data', onData);
      process.stderr!.on('data', onData);
      process.once('exit', (code) => reject(new Error(`nats-server exited (${code}) during start-up:\n${output}`)));
    });
  };
  const kill = async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  };
  t.after(async () => {
    child?.kill('SIGCONT');
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await kill();
  });
  if (options.running !== false) await start();
  else if (!port) throw new Error('a server that is not running needs a port');

  return {
    get url() {
      return `nats://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    kill,
    start,
    signal: (signal) => void child?.kill(signal),
    async messages(stream) {
      const nc = await connect({ servers: `nats://127.0.0.1:${port}` });
      clients.push(nc);
      const jsm = await jetstreamManager(nc);
      const { state } = await jsm.streams.info(stream);
      const messages: StoredMsg[] = [];
      for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) {
        const message = await jsm.streams.getMessage(stream, { seq });
        if (message) messages.push(message);
      }
      await nc.close();
      return messages;
    },
  };
}

/** A free TCP port on 127.0.0.1 (nothing listens on it once this returns). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.once('error', reject);
  });
}

/** Polls an async `probe` until it returns a value (not undefined or false); fails after `timeoutMs`. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
