// A warm shim: a shim server ledgerd boots before any task needs it, as the child it talks to
// over an IPC channel. It loads everything a container needs (mount helpers, cgroups, OOM
// watching) while idle, so a task's Create does not wait for node to start twice and for those
// modules to load. Assigned a task, it serves exactly as a shim `start` launched, and takes more
// tasks of the same namespace when the daemon packs them (up to the count the daemon gives);
// when its last container is gone it tells the daemon it is free and may be assigned again.
// Once the daemon is gone (the channel closed) an assigned shim carries on like any other and
// exits after its last container; an idle one, or one whose container was not created yet,
// exits at once.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ShimFlags } from './flags.js';
import { loadMount } from './rootfs.js';
import { bootShimProcess, collectGarbage, CREATE_WAIT_MS, serveSession, type ShimSession } from './serve.js';
import { claimGroupSocket } from '../shared/group-socket.js';
import { groupSocketPath, toAddress } from '../shared/socket-address.js';
import type { FromWarmShim, ToWarmShim } from '../shared/warm-messages.js';

export async function serveWarm(flags: ShimFlags): Promise<void> {
  // The daemon may die before this shim has read the end of the channel: the write then fails
  // (EPIPE). Given a callback, node reports that to it; without one it raises an uncaught 'error'
  // on process, which killed the shim with every container it served, its socket file left
  // behind refusing the next daemon (finding D of issue 13). The 'disconnect' that follows is
  // what tells this shim its daemon is gone.
  const send = (message: FromWarmShim): void => void (process.connected && process.send!(message, ignoreFailedSend));
  if (!process.send) throw new Error('the warm action is ledgerd\'s: it needs the daemon\'s IPC channel');
  const reaper = bootShimProcess();
  await Promise.all([import('./container.js'), import('./oom.js'), import('./cgroups.js'), loadMount()]);
  collectGarbage();

  let session: ShimSession | undefined;
  let serving: { namespace: string; address: string } | undefined;
  type Assign = Extract<ToWarmShim, { type: 'assign' }>;
  const refuse = (message: Assign, error: string) => send({ type: 'refused', seq: message.seq, error });

  /** One more container for the session: the daemon's pool packs tasks of a namespace. */
  const pack = (message: Assign): void => {
    if (message.namespace !== serving!.namespace) return refuse(message, `this shim serves namespace ${serving!.namespace}`);
    if (session!.size >= message.maxTasks) return refuse(message, `this shim serves ${session!.size} containers already`);
    try {
      writeFileSync(join(message.bundle, 'address'), serving!.address);
    } catch (err) {
      return refuse(message, (err as Error).message);
    }
    if (!session!.expect(message.id, CREATE_WAIT_MS)) return refuse(message, 'this shim is shutting down');
    send({ type: 'assigned', seq: message.seq, address: serving!.address, shared: false });
  };

  let starting = false;
  const assign = async (message: Assign): Promise<void> => {
    // a task sent to join containers that are gone: not a new assignment (the daemon would take
    // this shim for idle on its 'free' and give it another task, then kill it for refusing that)
    if (message.join && !session) return refuse(message, 'this shim serves no container any more');
    if (session) return pack(message);
    if (starting) return refuse(message, 'this shim is being assigned a task');
    starting = true;
    try {
      const path = groupSocketPath(message.address, message.namespace, message.id, message.bundle);
      const address = toAddress(path);
      const sessionFlags: ShimFlags = { ...flags, namespace: message.namespace, id: message.id, address: message.address, debug: message.debug, socket: address, bundle: message.bundle };
      session = await claimGroupSocket(path, () => {
        process.chdir(message.bundle);
        // connections come and go with the daemon's tasks here: the IPC channel tells of its death
        return serveSession(sessionFlags, reaper, (server) => server.listen(path), (size) => send({ type: 'size', size }), false);
      });
      if (!session) {
        // the group's shim is alive: it serves this container too
        writeFileSync(join(message.bundle, 'address'), address);
        return void send({ type: 'assigned', seq: message.seq, address, shared: true });
      }
      serving = { namespace: message.namespace, address };
      session.expect(message.id, CREATE_WAIT_MS);
      writeFileSync('address', address);
      send({ type: 'assigned', seq: message.seq, address, shared: false });
    } catch (err) {
      session = serving = undefined;
      process.chdir('/');
      return refuse(message, (err as Error).message);
    } finally {
      starting = false;
    }
    const { clean } = await session.ended;
    session = serving = undefined;
    process.chdir('/');
    // reused only when nothing of the last task is left: no connection its server could not close
    if (!clean || !process.connected) process.exit(0);
    // no gc() here: a full collection costs ~20 ms of CPU per task; the periodic one (serve.ts) does
    send({ type: 'free' });
  };

  process.on('message', (message: ToWarmShim) => {
    if (message.type === 'assign') void assign(message);
    else if (message.type === 'exit' && !session) process.exit(0);
  });
  process.on('disconnect', () => {
    if (!session) process.exit(0);
    // the daemon died: Creates it promised will not come, and nobody will delete what is not
    // created (a Create under way is awaited: it may leave a container to serve); the session's
    // end is awaited below, where a disconnected shim exits
    session.endWithoutDaemon();
  });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => void (session ? session.end().then(() => process.exit(0)) : process.exit(0)));
  }
  send({ type: 'ready' });
}

const ignoreFailedSend = (): void => {};
