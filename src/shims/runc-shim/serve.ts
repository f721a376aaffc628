// The long-running shim (no action): becomes the child subreaper, serves containerd.task.v2.Task
// over ttrpc on the socket `start` handed over as fd 3 (or -socket), publishes task events to
// TTRPC_ADDRESS, and exits when Shutdown finds no container left (or on SIGTERM/SIGINT),
// removing its socket. The daemon's death does not concern it: it keeps its containers.
import { readFileSync, rmSync } from 'node:fs';
import { TASK_SERVICE } from '../protocol/task.js';
// not ../ttrpc/index.js: it re-exports the typed helpers, which load protobufjs
import { requireSameUser } from '../ttrpc/peer-credentials.js';
import { TtrpcServer } from '../ttrpc/server.js';
import type { ShimFlags } from './flags.js';
import { closeLog, log, openLog } from './log.js';
import { Publisher } from './publisher.js';
import { Reaper } from './reaper.js';
import { fromAddress } from './socket-address.js';
import { becomeSubreaper } from './syscalls.js';
import { TaskService } from './task-service.js';

const LISTENER_FD = 3;
/** containerd's shim returns memory to the system every 30 s (debug.FreeOSMemory); so do we. */
const GC_INTERVAL_MS = 30_000;

export async function serve(flags: ShimFlags): Promise<void> {
  openLog({ debug: flags.debug, namespace: flags.namespace, id: flags.id });
  becomeSubreaper();
  const reaper = new Reaper();
  reaper.start();

  const publisher = new Publisher(process.env.TTRPC_ADDRESS ?? '', flags.namespace);
  const server = new TtrpcServer({ authorize: requireSameUser(), onError: (err) => log.warn(err.message) });
  let stopping = false;
  const shutdown = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down');
    service.close();
    await publisher.flush(2000);
    publisher.close();
    removeSocket(flags.socket);
    // closing waits for the peers' connections to go; the exit below ends them anyway
    await Promise.race([server.close(), new Promise((resolve) => setTimeout(resolve, 200))]);
    closeLog();
    process.exit(0);
  };
  const service = new TaskService(flags.namespace, reaper, publisher, () => void shutdown());
  server.register(TASK_SERVICE, service.handlers());

  if (flags.socket) await server.listen(fromAddress(flags.socket));
  else await server.listenFd(LISTENER_FD);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => void shutdown());
  process.on('SIGPIPE', () => {});
  log.info(`serving (pid ${process.pid})`);
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) setInterval(gc, GC_INTERVAL_MS).unref();
}

/** The socket file of ./address (the inherited listener does not know its path). */
function removeSocket(socketFlag: string): void {
  try {
    const address = socketFlag || readFileSync('address', 'utf8').trim();
    rmSync(fromAddress(address), { force: true });
  } catch {
    // no address file
  }
}
