/**
 * The daemon packs a task into a warm shim it believes serving ("join"); the shim may have lost
 * its last container and sent 'free' meanwhile. A shim serving nothing must refuse such a task:
 * taking it as a new assignment left the daemon's pool thinking the shim idle, the pool gave it
 * the next task, the shim refused that one (busy), and the pool killed it with the container it
 * had just taken (`ctr run` failed with ECONNREFUSED on the shim's socket, ~1 in 12,000 runs of
 * the 10-minute soak).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { FromWarmShim } from '../../src/shims/shared/warm-messages.js';
import { makeBundle, ociSpec } from '../helpers/shim-bundle.js';
import { alive, SHIM_BINARY } from '../helpers/own-shim.js';

const skip = process.getuid?.() !== 0 && 'needs root';

test('a warm shim serving no container refuses a task sent to join its containers, and still takes a new assignment', { skip, timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync('/tmp/ledgerd-warm-join-');
  const namespace = `warm-join-${process.pid}`;
  const bundle = makeBundle(join(dir, 'state'), namespace, 'c1', ociSpec({ args: ['true'] }));
  const shim = spawn(process.execPath, [SHIM_BINARY, 'warm'], { cwd: '/', detached: true, stdio: ['ignore', 'ignore', 'ignore', 'ipc'], env: { ...process.env, TTRPC_ADDRESS: join(dir, 'events.sock') } });
  t.after(() => {
    if (alive(shim.pid!)) process.kill(shim.pid!, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const answer = (seq: number) => new Promise<FromWarmShim>((resolve) => shim.on('message', (m: FromWarmShim) => 'seq' in m && m.seq === seq && resolve(m)));
  await new Promise<void>((resolve) => shim.on('message', (m: FromWarmShim) => m.type === 'ready' && resolve()));
  const assignment = { type: 'assign', namespace, id: 'c1', address: join(dir, 'ledgerd.sock'), bundle, debug: false, maxTasks: 8 };

  const joined = answer(1);
  shim.send({ ...assignment, seq: 1, join: true });
  assert.deepEqual(await joined, { type: 'refused', seq: 1, error: 'this shim serves no container any more' });

  const assigned = answer(2);
  shim.send({ ...assignment, seq: 2, join: false });
  assert.equal((await assigned).type, 'assigned');
});
