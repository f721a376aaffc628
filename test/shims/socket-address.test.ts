// canConnect decides whether a shim's socket file is a dead shim's, which `start` and a warm shim
// then remove to listen there themselves: only a dial that proves nobody listens may say so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { canConnect } from '../../src/shims/shared/socket-address.js';
import { tempDir } from '../helpers/tmp.js';

/** A listener in a child process that never accepts (its event loop blocked once it listens); ends with the test. */
async function stuckListener(t: Parameters<typeof tempDir>[0], path: string): Promise<void> {
  const script = `const s = require('net').createServer(); s.listen({ path: ${JSON.stringify(path)}, backlog: 1 }, () => { process.stdout.write('listening'); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); });`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => void child.kill('SIGKILL'));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`the listener exited (${code})`)));
  });
}

const dial = (path: string): Promise<{ socket: Socket; error?: NodeJS.ErrnoException }> =>
  new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => resolve({ socket }));
    socket.once('error', (error: NodeJS.ErrnoException) => resolve({ socket, error }));
  });

test('canConnect: no file, or a socket file nobody listens on, is a dead shim; a live listener whose backlog is full is not', async (t) => {
  const dir = tempDir(t, 'ledgerd-socket-');
  assert.equal(await canConnect(join(dir, 'none')), false, 'no file');

  const orphan = join(dir, 'orphan');
  // a listener whose process was killed: its socket file stays
  const killed = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(orphan)}, () => process.kill(process.pid, 'SIGKILL'))`]);
  await new Promise((resolve) => killed.once('exit', resolve));
  assert.ok(existsSync(orphan));
  assert.equal(await canConnect(orphan), false, 'a socket file with no listener');

  const busy = join(dir, 'busy');
  await stuckListener(t, busy);
  const held: Socket[] = [];
  t.after(() => held.forEach((s) => s.destroy()));
  // fill its backlog: the next dial is refused for now (EAGAIN), though a shim listens
  let full: NodeJS.ErrnoException | undefined;
  for (let i = 0; i < 64 && !full; i++) {
    const { socket, error } = await dial(busy);
    held.push(socket);
    full = error;
  }
  assert.equal(full?.code, 'EAGAIN');
  assert.equal(await canConnect(busy), true, 'a listener with a full backlog is alive');
});
