// ledgerctl: ledgerd's own client — the log, resumable events, garbage collection, images, containers.
import type { ServiceError } from '@grpc/grpc-js';
import { Connection, DEFAULT_ADDRESS } from './grpc-client.js';
import { UsageError, type Command } from './ledgerctl/command.js';
import { events, log, version } from './ledgerctl/log.js';
import { gc, why } from './ledgerctl/gc.js';
import { exec, kill, logs, ps, rm, run } from './ledgerctl/containers.js';
import { images, pull } from './ledgerctl/images.js';
import { debug } from './ledgerctl/debug.js';
import { diff, state } from './ledgerctl/time-travel.js';
import { exportCommand } from './ledgerctl/export.js';
import { audit } from './ledgerctl/audit.js';

const COMMANDS: Record<string, Command> = { version, log, events, state, diff, gc, why, export: exportCommand, audit, pull, images, run, exec, ps, kill, rm, logs, debug };

const USAGE = `usage: ledgerctl [-a ADDRESS] [-n NAMESPACE] COMMAND [ARGS...]

commands:
${Object.values(COMMANDS)
  .map((command) => `  ${command.usage}`)
  .join('\n')}

global flags (before the command):
  -a, --address PATH     daemon socket (default ${DEFAULT_ADDRESS}, env LEDGERD_ADDRESS)
  -n, --namespace NAME   namespace for namespaced calls (default "default", env LEDGERD_NAMESPACE)

Filters use containerd's syntax, e.g. --filter 'type==NamespaceCreated' or 'topic~="^/namespaces/"'.
`;

function fail(message: string): never {
  process.stderr.write(`ledgerctl: ${message}\n`);
  process.exit(1);
}

/** Global flags come before the command word, as with ctr. */
function parseGlobal(argv: readonly string[]): { address: string; namespace: string; command?: string; args: string[] } {
  let address = process.env.LEDGERD_ADDRESS ?? DEFAULT_ADDRESS;
  let namespace = process.env.LEDGERD_NAMESPACE ?? 'default';
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => inline ?? argv[++i] ?? fail(`${flag} needs a value`);
    if (flag === '-a' || flag === '--address') address = value();
    else if (flag === '-n' || flag === '--namespace') namespace = value();
    else if (flag === '-h' || flag === '--help') return { address, namespace, args: [] };
    else if (flag.startsWith('-')) fail(`unknown flag ${flag}\n\n${USAGE}`);
    else return { address, namespace, command: arg, args: argv.slice(i + 1) };
  }
  return { address, namespace, args: [] };
}

const { address, namespace, command, args } = parseGlobal(process.argv.slice(2));
if (!command) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const chosen = command ? COMMANDS[command] : undefined;
if (!chosen) fail(`unknown command "${command}"\n\n${USAGE}`);

const connection = new Connection(address, namespace);
chosen
  .run({ connection, namespace, args })
  .catch((err: ServiceError | Error) => {
    if (err instanceof UsageError) fail(`${err.message}\n\n${USAGE}`);
    fail('details' in err && err.details ? err.details : err.message);
  })
  .finally(() => {
    connection.close();
    // an attached container's stdin keeps the loop alive: the command is over, so is the process
    process.exit();
  });
