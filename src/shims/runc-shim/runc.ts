// Drives the runc binary (go-runc's command lines), spawned by child.ts.
import { readFileSync } from 'node:fs';
import { writeFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { DEFAULT_RUNC_ROOT } from '../shared/runc-options.js';
import { lookPath } from '../shared/look-path.js';
import type { RuncOptionsValue } from '../wire/protocol/task.js';
import { runChild, type ChildStdio } from './child.js';

export type { ChildStdio };

export interface RuncConfig {
  /** The runc binary (options.binary_name, default "runc"). */
  readonly command: string;
  /** --root: <options.root or /run/containerd/runc>/<namespace>. */
  readonly root: string;
  /** --log: <bundle>/log.json, read back for the last error. */
  readonly log: string;
  readonly systemdCgroup: boolean;
  readonly criu?: string;
}

export class RuncError extends Error {
  constructor(
    message: string,
    readonly exitCode: number | undefined,
  ) {
    super(message);
    this.name = 'RuncError';
  }
}

/**
 * Absolute paths of the runtime binaries found so far (posix_spawn takes a path, it does not
 * search $PATH), looked up once; a name not found is looked up again next time (it may have been
 * installed since), and fails to spawn with ENOENT meanwhile.
 */
const resolvedCommands = new Map<string, string>();

function resolveCommand(command: string): string {
  let path = resolvedCommands.get(command);
  if (!path) {
    path = lookPath(command);
    if (!path) return command;
    resolvedCommands.set(command, path);
  }
  return path;
}

export class Runc {
  constructor(readonly config: RuncConfig) {}

  private globalArgs(): string[] {
    const args = ['--root', this.config.root, '--log', this.config.log, '--log-format', 'json'];
    if (this.config.criu) args.push('--criu', this.config.criu);
    if (this.config.systemdCgroup) args.push('--systemd-cgroup');
    return args;
  }

  /**
   * Runs runc; resolves with stdout (`output`: only commands that print something read it);
   * rejects with stderr/stdout (or log.json's last error) on a non-zero exit.
   */
  private async run(args: string[], options: { stdio?: [ChildStdio, ChildStdio, ChildStdio]; input?: string; output?: boolean } = {}): Promise<string> {
    const captured = !options.stdio;
    const stdio = options.stdio ?? [options.input === undefined ? 'ignore' : 'pipe', options.output ? 'pipe' : 'ignore', 'pipe'];
    let result;
    try {
      result = await runChild(resolveCommand(this.config.command), [...this.globalArgs(), ...args], {
        // the container's bundle, not the shim's working directory: that is the bundle of the
        // group's first container, which may be gone (runc cannot be started in a deleted directory)
        cwd: dirname(this.config.log),
        stdio,
        input: options.input,
      });
    } catch (err) {
      throw new RuncError(`${this.config.command} ${args[0]}: ${(err as Error).message}`, undefined);
    }
    if (result.exitCode === 0) return captured ? result.stdout : '';
    const output = captured ? `${result.stderr} ${result.stdout}`.trim() : '';
    const detail = output || this.lastLogError() || `exit status ${result.exitCode}`;
    throw new RuncError(`${this.config.command} ${args[0]}: ${detail}`, result.exitCode);
  }

  /** The message of the last level=error line of log.json (containerd's getLastRuntimeError). */
  lastLogError(): string {
    let text: string;
    try {
      text = readFileSync(this.config.log, 'utf8');
    } catch {
      return '';
    }
    let message = '';
    for (const line of text.split('\n')) {
      if (!line.includes('"error"')) continue;
      try {
        const entry = JSON.parse(line) as { level?: string; msg?: string };
        if (entry.level === 'error') message = String(entry.msg ?? '').trim();
      } catch {
        // a torn line
      }
    }
    return message;
  }

  create(
    id: string,
    bundle: string,
    options: { pidFile: string; consoleSocket?: string; noPivot?: boolean; noNewKeyring?: boolean; stdio: [ChildStdio, ChildStdio, ChildStdio] },
  ): Promise<string> {
    const args = ['create', '--bundle', bundle, '--pid-file', options.pidFile];
    if (options.consoleSocket) args.push('--console-socket', options.consoleSocket);
    if (options.noPivot) args.push('--no-pivot');
    if (options.noNewKeyring) args.push('--no-new-keyring');
    return this.run([...args, id], { stdio: options.stdio });
  }

  async start(id: string): Promise<void> {
    await this.run(['start', id]);
  }

  /** `runc exec --detach`: the process is left to us (the subreaper) when runc exits. */
  async exec(
    id: string,
    processSpec: unknown,
    options: { pidFile: string; consoleSocket?: string; specDir: string; stdio: [ChildStdio, ChildStdio, ChildStdio] },
  ): Promise<void> {
    const specFile = join(options.specDir, `.runc-process-${process.pid}-${Math.random().toString(36).slice(2)}.json`);
    await writeFile(specFile, JSON.stringify(processSpec), { mode: 0o600 });
    try {
      const args = ['exec', '--process', specFile, '--detach', '--pid-file', options.pidFile];
      if (options.consoleSocket) args.push('--console-socket', options.consoleSocket);
      await this.run([...args, id], { stdio: options.stdio });
    } finally {
      await rm(specFile, { force: true });
    }
  }

  async kill(id: string, signal: number, all = false): Promise<void> {
    await this.run(['kill', ...(all ? ['--all'] : []), id, String(signal)]);
  }

  async pause(id: string): Promise<void> {
    await this.run(['pause', id]);
  }

  async resume(id: string): Promise<void> {
    await this.run(['resume', id]);
  }

  async ps(id: string): Promise<number[]> {
    const out = await this.run(['ps', '--format', 'json', id], { output: true });
    const pids = JSON.parse(out || '[]') as unknown;
    return Array.isArray(pids) ? pids.map(Number) : [];
  }

  /** `runc update --resources -` with the runtime-spec LinuxResources JSON on stdin. */
  async update(id: string, resourcesJson: string): Promise<void> {
    await this.run(['update', '--resources', '-', id], { input: resourcesJson });
  }

  async delete(id: string, force = false): Promise<void> {
    await this.run(['delete', ...(force ? ['--force'] : []), id]);
  }

  async state(id: string): Promise<{ status: string; pid: number }> {
    return JSON.parse(await this.run(['state', id], { output: true })) as { status: string; pid: number };
  }

  async checkpoint(id: string, options: { imagePath: string; workDir: string; leaveRunning: boolean; flags: string[] }): Promise<void> {
    const args = ['checkpoint', '--image-path', options.imagePath, '--work-path', options.workDir, ...options.flags];
    if (options.leaveRunning) args.push('--leave-running');
    await this.run([...args, id]);
  }
}

/** Reads a pid file runc wrote (containerd's runc.ReadPidFile). */
export function readPidFile(path: string): number {
  const pid = Number(readFileSync(path, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`invalid pid in ${path}`);
  return pid;
}

/** The Runc of a task: its options (binary, root, systemd cgroup, criu) and the bundle's log.json. */
export function runcFor(bundle: string, namespace: string, options: RuncOptionsValue): Runc {
  return new Runc({
    command: options.binary_name || 'runc',
    root: join(options.root || DEFAULT_RUNC_ROOT, namespace),
    log: join(bundle, 'log.json'),
    systemdCgroup: options.systemd_cgroup,
    criu: options.criu_path || undefined,
  });
}

