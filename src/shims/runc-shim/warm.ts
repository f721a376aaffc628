// A warm shim: a shim server ledgerd boots before any task needs it, as the child it talks to
// over an IPC channel. It loads everything a container needs (runc's execa, cgroups, OOM
// watching) while idle, so a task's Create does not wait for node to start twice and for those
// modules to load. Assigned a task, it serves exactly as a shim `start` launched; when its last
// container is gone it tells the daemon it is free and may be assigned again. Once the daemon is
// gone (the channel closed) an assigned shim carries on like any other and exits after its last
// container; an idle one exits at once.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ShimFlags } from './flags.js';
import { preloadExeca } from './runc.js';
import { bootShimProcess, collectGarbage, serveSession, type ShimSession } from './serve.js';
import { canConnect, groupSocketPath, toAddress } from './socket-address.js';
import type { FromWarmShim, ToWarmShim } from './warm-messages.js';

export async function serveWarm(flags: ShimFlags): Promise<void> {
  const send = (message: FromWarmShim) => process.connected && process.send!(message);
  if (!process.send) throw new Error('the warm action is ledgerd\'s: it needs the daemon\'s IPC channel');
  const reaper = bootShimProcess();
  await Promise.all([import('./container.js'), import('./oom.js'), import('./cgroups.js'), preloadExeca()]);
  collectGarbage();

  let session: ShimSession | undefined;
  const assign = async (message: Extract<ToWarmShim, { type: 'assign' }>): Promise<void> => {
    if (session) return void send({ type: 'refused', seq: message.seq, error: 'this shim serves a task already' });
    try {
      const path = groupSocketPath(message.address, message.namespace, message.id, message.bundle);
      const address = toAddress(path);
      if (await canConnect(path)) {
        // the group's shim is alive: it serves this container too
        writeFileSync(join(message.bundle, 'address'), address);
        return void send({ type: 'assigned', seq: message.seq, address, shared: true });
      }
      process.chdir(message.bundle);
      const sessionFlags: ShimFlags = { ...flags, namespace: message.namespace, id: message.id, address: message.address, debug: message.debug, socket: address, bundle: message.bundle };
      session = await serveSession(sessionFlags, reaper, (server) => server.listen(path));
      writeFileSync('address', address);
      send({ type: 'assigned', seq: message.seq, address, shared: false });
    } catch (err) {
      session = undefined;
      process.chdir('/');
      return void send({ type: 'refused', seq: message.seq, error: (err as Error).message });
    }
    const { clean } = await session.ended;
    session = undefined;
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
  });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => void (session ? session.end().then(() => process.exit(0)) : process.exit(0)));
  }
  send({ type: 'ready' });
}
