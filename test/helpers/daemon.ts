import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import { Connection } from '../../src/cli/grpc-client.js';
import { tempDir } from './tmp.js';

export const LEDGERD = fileURLToPath(new URL('../../../bin/ledgerd', import.meta.url));
export const LEDGERCTL = fileURLToPath(new URL('../../../bin/ledgerctl', import.meta.url));

export interface TestDaemon {
  readonly root: string;
  readonly state: string;
  readonly address: string;
  readonly process: ChildProcess;
  output(): string;
  connect(namespace?: string): Connection;
  /** SIGTERM and wait for a clean exit. */
  stop(): Promise<number | null>;
  /** SIGKILL: the crash case. */
  kill(): Promise<void>;
  /** Start again on the same root, state and socket. */
  restart(): Promise<TestDaemon>;
}

export interface DaemonOptions {
  readonly dir?: string;
  readonly args?: string[];
  /** A command prefix to run the daemon under, e.g. ['ip', 'netns', 'exec', NAME] (it must exec). */
  readonly wrap?: readonly string[];
  /** The daemon's environment (default: this process's). */
  readonly env?: NodeJS.ProcessEnv;
  /** How long start-up may take (default 10 s; a restart that reconnects shims on a loaded machine takes longer). */
  readonly startTimeoutMs?: number;
}

/** Runs bin/ledgerd on a private root, state and socket; stopped when the test ends. */
export async function startTestDaemon(t: TestContext, options: DaemonOptions = {}): Promise<TestDaemon> {
  const dir = options.dir ?? tempDir(t);
  const root = join(dir, 'root');
  const state = join(dir, 'state');
  const address = join(dir, 'ledgerd.sock');
  const [command, ...args] = [...(options.wrap ?? []), process.execPath, LEDGERD, '--root', root, '--state', state, '--address', address, ...(options.args ?? [])];
  const child = spawn(command!, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: options.env ?? process.env,
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const connections: Connection[] = [];
  t.after(async () => {
    connections.forEach((c) => c.close());
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  await waitForSocket(address, exited, () => output, options.startTimeoutMs ?? 10_000);
  const daemon: TestDaemon = {
    root,
    state,
    address,
    process: child,
    output: () => output,
    connect(namespace = 'default') {
      const connection = new Connection(address, namespace);
      connections.push(connection);
      return connection;
    },
    async stop() {
      child.kill('SIGTERM');
      return exited;
    },
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
    restart: () => startTestDaemon(t, { ...options, dir }),
  };
  return daemon;
}

async function waitForSocket(path: string, exited: Promise<number | null>, output: () => string, timeoutMs: number): Promise<void> {
  let done = false;
  void exited.then(() => (done = true));
  for (let i = 0; i < timeoutMs / 50; i++) {
    if (done) throw new Error(`ledgerd exited during start-up:\n${output()}`);
    if (await canConnect(path)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`ledgerd did not listen on ${path} within ${timeoutMs / 1000} s:\n${output()}`);
}

function canConnect(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
