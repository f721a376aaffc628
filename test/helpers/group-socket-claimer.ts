// A process that takes a group's socket path as a shim does (claimGroupSocket), for
// test/shims/group-socket.test.ts: told `claim`, it claims the path and answers whether it
// listens there now (its listener answers a dial with its pid); told `close`, it closes it.
import { createServer, type Server } from 'node:net';
import { claimGroupSocket } from '../../src/shims/shared/group-socket.js';

export type ToClaimer = { type: 'claim'; path: string } | { type: 'close' };
export type FromClaimer = { type: 'ready' } | { type: 'claimed'; listening: boolean } | { type: 'failed'; error: string } | { type: 'closed' };

const send = (message: FromClaimer): void => void process.send!(message);

function listen(path: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    // the other claimers' probes hang up at once
    const server = createServer((socket) => socket.on('error', () => {}).end(String(process.pid)));
    server.once('error', reject);
    server.listen(path, () => resolve(server));
  });
}

let server: Server | undefined;
process.on('message', (message: ToClaimer) => {
  if (message.type === 'claim') {
    claimGroupSocket(message.path, () => listen(message.path)).then(
      (claimed) => ((server = claimed), send({ type: 'claimed', listening: claimed !== undefined })),
      (err: Error) => send({ type: 'failed', error: err.message }),
    );
  } else {
    const closing = server;
    server = undefined;
    if (!closing) return send({ type: 'closed' });
    closing.close(() => send({ type: 'closed' }));
  }
});
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
