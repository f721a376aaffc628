// The daemons and registry a comparison bench runs: ledgerd (bin/ledgerd on a private root),
// real containerd 1.6 and a registry with the harness's images (../shared/harness scripts),
// all under one directory and all stopped by stop().
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HARNESS = fileURLToPath(new URL('../../../shared/harness/', import.meta.url));
const LEDGERD = fileURLToPath(new URL('../../bin/ledgerd', import.meta.url));

export interface BenchServices {
  readonly ledgerd: { readonly socket: string; readonly root: string };
  readonly containerd: { readonly socket: string; readonly root: string };
  stop(): Promise<void>;
}

const listening = (address: string) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(address);
    socket.once('connect', () => (socket.destroy(), resolve(true))).once('error', () => resolve(false));
  });

export interface BenchLedgerd {
  readonly pid: number;
  readonly socket: string;
  readonly root: string;
  stop(): Promise<void>;
}

/** bin/ledgerd (or the `bin` given, e.g. another checkout's) on a private root and state under `dir`, with `config` (TOML) if given. */
export async function startLedgerd(dir: string, config?: string, bin: string = LEDGERD, nodeOptions: readonly string[] = []): Promise<BenchLedgerd> {
  mkdirSync(dir, { recursive: true });
  const socket = join(dir, 'ledgerd.sock');
  const root = join(dir, 'ledgerd-root');
  const args = ['--root', root, '--state', join(dir, 'ledgerd-state'), '-a', socket];
  if (config !== undefined) {
    writeFileSync(join(dir, 'config.toml'), config);
    args.push('--config', join(dir, 'config.toml'));
  }
  const child = spawn(process.execPath, [...nodeOptions, bin, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let errors = '';
  child.stderr!.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
  };
  for (let i = 0; !(await listening(socket)); i++) {
    if (child.exitCode !== null || i > 400) {
      await stop();
      throw new Error(`ledgerd did not start:\n${errors}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { pid: child.pid!, socket, root, stop };
}

export async function startServices(dir: string, registryPort: string, images: string): Promise<BenchServices> {
  const env = { ...process.env, REGISTRY_PORT: registryPort };
  const harness = (script: string, ...args: string[]) =>
    execFileSync('bash', [join(HARNESS, script), ...args], { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'inherit'] });
  let ledgerd: BenchLedgerd | undefined;
  const stop = async () => {
    try {
      harness('containerd-ref.sh', 'stop', join(dir, 'containerd'));
    } finally {
      harness('registry.sh', 'stop', join(dir, 'registry'));
      await ledgerd?.stop();
    }
  };
  try {
    harness('registry.sh', 'start', join(dir, 'registry'), images);
    const containerd = { socket: harness('containerd-ref.sh', 'start', join(dir, 'containerd')).trim(), root: join(dir, 'containerd', 'root') };
    ledgerd = await startLedgerd(dir);
    return { ledgerd, containerd, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
