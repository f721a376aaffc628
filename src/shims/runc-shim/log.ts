// The shim's log: logrus-style text lines into the bundle's `log` FIFO, which the daemon opened
// before starting the shim and copies to its own log. Best effort: a missing reader (daemon
// gone) or a full FIFO drops lines rather than blocking or killing the shim.
import { closeSync, constants, openSync, statSync, writeSync } from 'node:fs';

let fd: number | undefined;
let debugEnabled = false;
let fields = '';

/** Opens `<cwd>/log` if it is a FIFO (read-write, so opening never waits for the daemon). */
export function openLog(options: { debug: boolean; namespace: string; id: string }): void {
  debugEnabled = options.debug;
  fields = ` runtime=io.containerd.ledger.v1 namespace=${options.namespace} id=${options.id} pid=${process.pid}`;
  try {
    if (statSync('log').isFIFO()) fd = openSync('log', constants.O_RDWR | constants.O_NONBLOCK);
  } catch {
    fd = undefined;
  }
}

export function closeLog(): void {
  if (fd !== undefined) closeSync(fd);
  fd = undefined;
}

function write(level: string, message: string): void {
  if (fd === undefined) return;
  const line = `time="${new Date().toISOString()}" level=${level} msg=${JSON.stringify(message)}${fields}\n`;
  try {
    writeSync(fd, line);
  } catch {
    // EAGAIN (nobody reading) or EPIPE: drop the line
  }
}

export const log = {
  debug: (message: string): void => {
    if (debugEnabled) write('debug', message);
  },
  info: (message: string): void => write('info', message),
  warn: (message: string): void => write('warning', message),
  error: (message: string): void => write('error', message),
};
