// The long-running shim: becomes the child subreaper and serves containerd.task.v2.Task over
// ttrpc, publishing task events to TTRPC_ADDRESS. `serve` is the server `start` launched (on the
// socket handed over as fd 3, or -socket): it exits when Shutdown finds no container left (or
// on SIGTERM/SIGINT), removing its socket, or when the container it was started for is not
// created in time. The daemon's death does not concern it: it keeps its containers. `serveSession` is one such service, also run by warm shims (warm.ts), which may
// serve another container after it ends.
import { readFileSync, writeSync } from 'node:fs';
import { TASK_SERVICE } from '../wire/protocol/task.js';
import { requireSameUser } from '../wire/ttrpc/peer-credentials.js';
import { TtrpcServer } from '../wire/ttrpc/server.js';
import type { ShimFlags } from './flags.js';
import { closeLog, log, openLog } from './log.js';
import { Publisher } from './publisher.js';
import { Reaper } from './reaper.js';
import { fromAddress } from '../shared/socket-address.js';
import { becomeSubreaper } from './syscalls.js';
import { TaskService } from './task-service.js';

const LISTENER_FD = 3;
/** containerd's shim returns memory to the system every 30 s (debug.FreeOSMemory); so do we. */
const GC_INTERVAL_MS = 30_000;
/**
 * How long a container promised to a shim (the one `start` was run for, or one a warm shim is
 * assigned) may take to be created: a shim whose daemon died before its Create came ends then.
 */
export const CREATE_WAIT_MS = 30_000;
/** How long closing the server may wait for the daemon to hang up its connections. */
const CLOSE_GRACE_MS = 200;
/** How long a shim with no container waits for a connection after its last one closed. */
const ORPHAN_GRACE_MS = 3000;

export const collectGarbage = (): void => (globalThis as { gc?: () => void }).gc?.();

/** Subreaper, exit collection and the periodic gc: once per shim process. */
export function bootShimProcess(): Reaper {
  becomeSubreaper();
  const reaper = new Reaper();
  reaper.start();
  setInterval(collectGarbage, GC_INTERVAL_MS).unref();
  process.on('SIGPIPE', () => {});
  // the shim's stderr goes nowhere: its last words go to the daemon's log
  process.on('uncaughtException', (err) => {
    log.error(`fatal: ${err.stack ?? err.message}`);
    // and on stderr: a warm shim's goes to a file of the daemon's (the FIFO's reader may be gone)
    try {
      writeSync(2, `${new Date().toISOString()} shim ${process.pid}: fatal: ${err.stack ?? err.message}\n`);
    } catch {
      // no stderr
    }
    process.exit(1);
  });
  return reaper;
}

export interface ShimSession {
  /** Resolves once the session has ended: socket removed, log closed; `clean` when its server closed in time. */
  readonly ended: Promise<{ clean: boolean }>;
  end(): Promise<void>;
  /** Containers served and expected. */
  readonly size: number;
  /** Containers created and not yet deleted (promised ones not counted). */
  readonly containers: number;
  /** Promises to serve container `id` too (its Create is to come within `ms`); false once the session is ending. */
  expect(id: string, ms: number): boolean;
  /** The daemon is gone: ends now if no container is served nor being created; with Creates under way, once they settle with none. */
  endWithoutDaemon(): void;
}

/**
 * Serves the task API for `flags.namespace` in the current directory (the bundle) until
 * Shutdown finds no container left. `listen` binds the server to its socket; `onSizeChange`
 * hears the number of containers served each time it changes. With `endsWithoutDaemon`, the
 * session also ends when its last connection closes before any container was created in it.
 */
export async function serveSession(
  flags: ShimFlags,
  reaper: Reaper,
  listen: (server: TtrpcServer) => Promise<void>,
  onSizeChange?: (size: number) => void,
  endsWithoutDaemon = true,
): Promise<ShimSession> {
  openLog({ debug: flags.debug, namespace: flags.namespace, id: flags.id });
  const publisher = new Publisher(process.env.TTRPC_ADDRESS ?? '', flags.namespace);
  const server = new TtrpcServer({
    authorize: requireSameUser(),
    onError: (err) => log.warn(err.message),
    // the daemon hung up and no container was created here: it died before its Create came. Not at
    // once: a group's `start` only probes the socket, and the daemon connects right after it
    onLastConnectionClosed: () => {
      if (!endsWithoutDaemon || service.created > 0) return;
      setTimeout(() => {
        if (server.connectionCount === 0) endWithoutDaemon();
      }, ORPHAN_GRACE_MS).unref();
    },
  });
  let resolveEnded!: (result: { clean: boolean }) => void;
  const ended = new Promise<{ clean: boolean }>((resolve) => (resolveEnded = resolve));
  let stopping = false;
  const end = async (): Promise<void> => {
    if (stopping) return ended.then(() => {});
    stopping = true;
    log.info('shutting down');
    service.close();
    // first: a shim for the same id (the same socket path) may be started while this one still
    // delivers its last events, and must not find this one and join it (a daemon's reconciler
    // discarding an unacknowledged task, then a client reusing its id, met the ending shim). And
    // only our own file: once it is gone the path is free for that new shim (finding of issue 13)
    server.removeSocketFiles();
    await publisher.flush(2000);
    publisher.close();
    // closing waits for the peers' connections to go
    const clean = await Promise.race([server.close().then(() => true), new Promise<boolean>((resolve) => setTimeout(resolve, CLOSE_GRACE_MS, false))]);
    closeLog();
    resolveEnded({ clean });
  };
  // the daemon is gone: a shim that serves no container ends, but not under a Create still under
  // way (runc may be creating the container): that is decided once the Creates settle
  let awaitingCreates = false;
  const endWithoutDaemon = (): void => {
    if (service.created > 0) return;
    if (service.creatingCount > 0) {
      awaitingCreates = true;
      return;
    }
    void end();
  };
  const sizeChanged = (size: number): void => {
    onSizeChange?.(size);
    if (!awaitingCreates || service.creatingCount > 0) return;
    awaitingCreates = false;
    if (!endsWithoutDaemon || server.connectionCount === 0) endWithoutDaemon();
  };
  const service = new TaskService(flags.namespace, reaper, publisher, () => void end(), sizeChanged);
  server.register(TASK_SERVICE, service.handlers());
  try {
    await listen(server);
  } catch (err) {
    publisher.close();
    closeLog();
    throw err;
  }
  log.info(`serving (pid ${process.pid})`);
  return {
    ended,
    end,
    get size() {
      return service.size;
    },
    get containers() {
      return service.created;
    },
    expect: (id, ms) => !stopping && service.expect(id, ms),
    endWithoutDaemon,
  };
}

export async function serve(flags: ShimFlags): Promise<void> {
  const reaper = bootShimProcess();
  // the address file: where `start` bound the inherited listener (read now, in the bundle)
  const inherited = readAddressFile();
  const session = await serveSession(flags, reaper, (server) =>
    flags.socket ? server.listen(fromAddress(flags.socket)) : server.listenFd(LISTENER_FD, inherited && fromAddress(inherited)),
  );
  // the container this shim was started for: if its Create never comes, nothing else ends the shim
  session.expect(flags.id, CREATE_WAIT_MS);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => void session.end());
  await session.ended;
  // an unclean close leaves connections open: the exit ends them
  process.exit(0);
}

/** ./address: where `start` said the inherited listener is (it does not know its path). */
function readAddressFile(): string | undefined {
  try {
    return readFileSync('address', 'utf8').trim();
  } catch {
    return undefined;
  }
}
