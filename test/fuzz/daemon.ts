import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { LEDGERD } from '../helpers/daemon.js';

export interface FuzzDaemon {
  readonly address: string;
  alive(): boolean;
  output(): string;
  stop(): Promise<void>;
}

/** bin/ledgerd on a private root, state and socket under `dir`, outside node:test (for scripts/fuzz.sh). */
export async function startFuzzDaemon(dir: string): Promise<FuzzDaemon> {
  const address = join(dir, 'ledgerd.sock');
  const child = spawn(process.execPath, [LEDGERD, '--root', join(dir, 'root'), '--state', join(dir, 'state'), '--address', address], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-200_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 30_000;
  while (!existsSync(address)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`ledgerd did not start:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    address,
    alive: () => child.exitCode === null && child.signalCode === null,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
