// ledgerd: the daemon. `ledgerd [flags]` serves; `ledgerd config default|dump` prints config;
// `ledgerd verify` checks the log offline.
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { applyOverrides, defaultConfigToml, loadConfig, type DaemonConfig } from '../plugin/index.js';
import { EventLog, verifyLog } from '../log/index.js';
import { upcast } from '../events/index.js';
import { startDaemon } from '../daemon/daemon.js';
import { registrations } from '../daemon/registrations.js';
import { createLogger, isLevel } from '../daemon/logger.js';
import { ServiceManager } from '../daemon/sd-notify.js';
import { LEDGERD_VERSION } from '../version.js';
import { stringify } from 'smol-toml';
import { capYoungGeneration } from '../util/collect-garbage.js';

const USAGE = `usage: ledgerd [flags] [command]

A container runtime daemon with containerd's API and an append-only event log.

commands:
  (none)           run the daemon
  config default   print the default configuration
  config dump      print the configuration in effect (file + flags)
  verify           check the event log under --root offline (the daemon must not be running)

flags:
  -c, --config PATH     config file (default /etc/ledgerd/config.toml; absent = built-in defaults)
      --root DIR        persistent state (default /var/lib/ledgerd)
      --state DIR       volatile state (default /run/ledgerd)
  -a, --address PATH    gRPC socket (default /run/ledgerd/ledgerd.sock)
  -l, --log-level LVL   trace, debug, info, warn, error (default info)
  -v, --version         print the version
`;

/**
 * The daemon's V8 young generation stays at 2 MiB (V8's initial 1 MiB semi-spaces, grown once)
 * instead of growing to 32 MiB, all resident, in any burst. Set once the modules have loaded:
 * start-up itself may grow it (V8 shrinks it back when the daemon is next quiet). Pulls of
 * `layered` took the same daemon CPU with caps of 2, 4 and 8 MiB (3 pulls each, 2 rounds, load
 * 1-3); capped from the first module on, the first pull took ~1 s more CPU.
 */
const YOUNG_GENERATION_CAP_BYTES = 2 * 1024 * 1024;

function fail(message: string): never {
  process.stderr.write(`ledgerd: ${message}\n`);
  process.exit(1);
}

function parse() {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        root: { type: 'string' },
        state: { type: 'string' },
        address: { type: 'string', short: 'a' },
        'log-level': { type: 'string', short: 'l' },
        version: { type: 'boolean', short: 'v' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    fail(`${(err as Error).message}\n\n${USAGE}`);
  }
}

function effectiveConfig(values: ReturnType<typeof parse>['values']): DaemonConfig {
  try {
    return applyOverrides(loadConfig(values.config), {
      root: values.root,
      state: values.state,
      address: values.address,
      logLevel: values['log-level'],
    });
  } catch (err) {
    fail((err as Error).message);
  }
}

async function run(config: DaemonConfig): Promise<void> {
  capYoungGeneration(YOUNG_GENERATION_CAP_BYTES);
  const level = config.debug.level || 'info'; // containerd's default config leaves it empty
  if (!isLevel(level)) fail(`log level "${level}": must be one of trace, debug, info, warn, error`);
  const logger = createLogger(level);
  const serviceManager = ServiceManager.fromEnvironment();
  const notify = (what: () => void) => {
    try {
      what();
    } catch (err) {
      logger.warn(`notifying the service manager: ${(err as Error).message}`);
    }
  };
  let daemon;
  try {
    daemon = await startDaemon(config, logger);
  } catch (err) {
    fail(`start-up failed: ${(err as Error).message}`);
  }
  notify(() => serviceManager.ready());
  const shutdown = (signal: string) => {
    logger.info(`${signal} received, shutting down`);
    notify(() => serviceManager.stopping());
    daemon.stop().then(
      () => process.exit(0),
      (err: Error) => fail(`shutdown: ${err.message}`),
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

async function verify(config: DaemonConfig): Promise<void> {
  const log = EventLog.open({ dir: join(config.root, 'log'), upcast, tolerateDamage: true });
  const report = verifyLog(log);
  await log.close();
  for (const problem of report.problems) process.stdout.write(`problem: ${problem}\n`);
  process.stdout.write(`${report.ok ? 'ok' : 'CORRUPT'}: ${report.records} records, head ${report.head}\n`);
  process.exit(report.ok ? 0 : 1);
}

const { values, positionals } = parse();
const command = positionals.join(' ');
if (values.help) {
  process.stdout.write(USAGE);
} else if (values.version) {
  process.stdout.write(`ledgerd ${LEDGERD_VERSION}\n`);
} else if (command === 'config default') {
  process.stdout.write(defaultConfigToml(registrations({ plugins: () => [], serving: () => false, subscribers: { inc() {}, dec() {} }, warn: () => {} })));
} else if (command === 'config dump') {
  process.stdout.write(`${stringify(effectiveConfig(values))}\n`);
} else if (command === 'verify') {
  await verify(effectiveConfig(values)).catch((err: Error) => fail(err.message));
} else if (command === '') {
  await run(effectiveConfig(values));
} else {
  fail(`unknown command "${command}"\n\n${USAGE}`);
}
