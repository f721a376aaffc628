import { randomBytes } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, watch } from 'node:fs';
import { join } from 'node:path';
import { SERVICES } from '../../client/rpc.js';
import { containerProcess, createContainer, execAttached, removeContainer, runAttached, runDetached, signalNumber } from '../../client/run/run.js';
import { mergeEnv } from '../../client/run/oci-spec.js';
import { parseCommandArgs, UsageError, type Command } from './command.js';

const FIFO_ROOT = '/run/ledgerd/fifo';
const LOG_ROOT = '/var/log/ledgerd';
const LOG_LABEL = 'ledgerd.io/log-path';
const DEFAULT_RUNTIME = 'io.containerd.runc.v2';

/**
 * Splits `[FLAGS] A B [REST...]` where REST belongs to the container's command (its own `-c`
 * is not ours): flags are only read before the `count`-th positional, as ctr does.
 */
function splitCommandLine(args: readonly string[], count: number, valueFlags: readonly string[]): { own: string[]; rest: string[] } {
  let seen = 0;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') return { own: args.slice(0, i + 1 + count - seen), rest: args.slice(i + 1 + count - seen) };
    if (arg.startsWith('-')) {
      if (valueFlags.includes(arg)) i++;
      continue;
    }
    if (++seen === count) return { own: args.slice(0, i + 1), rest: args.slice(i + 1) };
  }
  return { own: [...args], rest: [] };
}

const stdio = () => ({ stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, fifoRoot: FIFO_ROOT });

export const run: Command = {
  usage: `run [--rm] [-d] [-t] [--env K=V]... [--cwd DIR] [--runtime NAME] [--snapshotter S] IMAGE ID [CMD [ARG...]]
                                           run a container from a pulled image (containerd's defaults);
                                           attached: exits with the container's status; -d: output to
                                           ${LOG_ROOT}/NAMESPACE/ID.log (see logs)`,
  async run({ connection, namespace, args }) {
    const { own, rest } = splitCommandLine(args, 2, ['--env', '--cwd', '--runtime', '--snapshotter']);
    const { values, positionals } = parseCommandArgs(own, {
      rm: { type: 'boolean' },
      detach: { type: 'boolean', short: 'd' },
      tty: { type: 'boolean', short: 't' },
      env: { type: 'string', multiple: true },
      cwd: { type: 'string' },
      runtime: { type: 'string', default: DEFAULT_RUNTIME },
      snapshotter: { type: 'string', default: 'overlayfs' },
    });
    const [image, id] = positionals;
    if (!image || !id) throw new UsageError('run needs IMAGE and ID');
    if (values.detach && values.rm) throw new UsageError('--rm and --detach cannot be used together');
    const logPath = values.detach ? join(LOG_ROOT, namespace, `${id}.log`) : '';
    const rootfs = await createContainer(connection, {
      image,
      id,
      args: rest,
      env: values.env ?? [],
      cwd: values.cwd,
      terminal: values.tty ?? false,
      runtime: values.runtime!,
      snapshotter: values.snapshotter!,
      labels: logPath ? { [LOG_LABEL]: logPath } : {},
    });
    if (values.detach) {
      mkdirSync(join(LOG_ROOT, namespace), { recursive: true });
      await runDetached(connection, id, rootfs, logPath);
      return;
    }
    try {
      process.exitCode = await runAttached(connection, id, rootfs, values.tty ?? false, stdio());
    } finally {
      if (values.rm) await removeContainer(connection, id, values.snapshotter!);
    }
  },
};

export const exec: Command = {
  usage: `exec [-t] [--exec-id ID] [--env K=V]... [--cwd DIR] CONTAINER CMD [ARG...]
                                           run another process in a running container, attached`,
  async run({ connection, args }) {
    const { own, rest } = splitCommandLine(args, 1, ['--exec-id', '--env', '--cwd']);
    const { values, positionals } = parseCommandArgs(own, {
      tty: { type: 'boolean', short: 't' },
      'exec-id': { type: 'string' },
      env: { type: 'string', multiple: true },
      cwd: { type: 'string' },
    });
    const [id] = positionals;
    if (!id || rest.length === 0) throw new UsageError('exec needs CONTAINER and CMD');
    const base = await containerProcess(connection, id);
    const processSpec = { ...base, args: rest, terminal: values.tty ?? false, env: mergeEnv(base.env, values.env ?? []), cwd: values.cwd ?? base.cwd };
    const execId = values['exec-id'] ?? `exec-${randomBytes(4).toString('hex')}`;
    process.exitCode = await execAttached(connection, id, execId, processSpec, stdio());
  },
};

export const ps: Command = {
  usage: 'ps                                       the namespace\'s tasks: TASK PID STATUS',
  async run({ connection }) {
    const { tasks } = await connection.unary<{ tasks: { id: string; pid: number; status: string }[] }>(SERVICES.tasks, 'List', {});
    const rows = [['TASK', 'PID', 'STATUS'], ...tasks.map((t) => [t.id, String(t.pid), String(t.status)])];
    const width = rows.reduce((w, row) => Math.max(w, row[0]!.length, row[1]!.length), 0) + 4;
    for (const row of rows) process.stdout.write(`${row[0]!.padEnd(width)}${row[1]!.padEnd(width)}${row[2]}\n`);
  },
};

export const kill: Command = {
  usage: 'kill [-s SIGNAL] [--all] [--exec-id ID] CONTAINER   signal a task (default SIGTERM)',
  async run({ connection, args }) {
    const { values, positionals } = parseCommandArgs(args, {
      signal: { type: 'string', short: 's', default: 'SIGTERM' },
      all: { type: 'boolean', short: 'a' },
      'exec-id': { type: 'string' },
    });
    const [id] = positionals;
    if (!id) throw new UsageError('kill needs CONTAINER');
    await connection.unary(SERVICES.tasks, 'Kill', { container_id: id, exec_id: values['exec-id'] ?? '', signal: signalNumber(values.signal!), all: values.all ?? false });
  },
};

export const rm: Command = {
  usage: 'rm [--snapshotter S] CONTAINER...        delete stopped containers, their tasks and snapshots',
  async run({ connection, args }) {
    const { values, positionals } = parseCommandArgs(args, { snapshotter: { type: 'string', default: 'overlayfs' } });
    if (positionals.length === 0) throw new UsageError('rm needs CONTAINER');
    for (const id of positionals) await removeContainer(connection, id, values.snapshotter!);
  },
};

export const logs: Command = {
  usage: 'logs [-f] CONTAINER                      the output of a container started with run -d',
  async run({ connection, args }) {
    const { values, positionals } = parseCommandArgs(args, { follow: { type: 'boolean', short: 'f' } });
    const [id] = positionals;
    if (!id) throw new UsageError('logs needs CONTAINER');
    const { container } = await connection.unary<{ container: { labels: Record<string, string> } }>(SERVICES.containers, 'Get', { id });
    const path = container.labels[LOG_LABEL];
    if (!path || !existsSync(path)) throw new Error(`container ${id} has no log file (it was not started with run -d)`);
    await copyFrom(path, values.follow ?? false);
  },
};

/** Copies the file; with follow, keeps copying what is appended until Ctrl-C. */
async function copyFrom(path: string, follow: boolean): Promise<void> {
  let position = 0;
  const copy = () =>
    new Promise<void>((resolve, reject) => {
      const stream = createReadStream(path, { start: position });
      stream.on('data', (chunk) => {
        position += chunk.length;
        process.stdout.write(chunk);
      });
      stream.on('end', resolve);
      stream.on('error', reject);
    });
  await copy();
  if (!follow) return;
  let pending = Promise.resolve();
  watch(path, () => (pending = pending.then(copy)));
  await new Promise(() => undefined);
}
