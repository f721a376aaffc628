/**
 * A warm shim whose daemon dies (its IPC channel closes) while a Create is under way in it: the
 * shim must not end under that Create, which leaves it a container to serve (finding D of issue
 * 13: a shim must never end while it serves a container). As root with runc; the daemon's side is
 * played by this test: it boots the shim, assigns it a task, sends the Create over ttrpc, and
 * disconnects while a runc wrapper holds `runc create`. And a warm shim that dies of an uncaught
 * error leaves its last words on its stderr, a file the daemon gives it.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { encode } from '../../src/shims/wire/protocol/protowire.js';
import * as api from '../../src/shims/wire/protocol/task.js';
import { shimSocketPath } from '../../src/shims/runtime/shim-binary.js';
import type { FromWarmShim } from '../../src/shims/shared/warm-messages.js';
import { busyboxRootfs, makeBundle, ociSpec, removeNamespaceLeftovers, skipWithoutRunc, until } from '../helpers/shim-bundle.js';
import { alive, ShimClient, SHIM_BINARY } from '../helpers/own-shim.js';

const skip = process.getuid?.() !== 0 ? 'needs root' : skipWithoutRunc;

test('a warm shim whose daemon dies during a Create keeps the container it creates, and ends after it', { skip, timeout: 90_000 }, async (t) => {
  const dir = mkdtempSync('/tmp/ledgerd-warm-death-');
  const namespace = `warm-death-${process.pid}`;
  const rootfs = busyboxRootfs(join(dir, 'rootfs'));
  const bundle = makeBundle(join(dir, 'state'), namespace, 'c1', ociSpec({ args: ['sleep', '1000'], cgroupsPath: `/ledgerd-test/${namespace}-c1` }));
  // runc, held at `create` until the test says so
  const runc = join(dir, 'slow-runc');
  writeFileSync(
    runc,
    `#!/bin/sh
for arg in "$@"; do
  if [ "$arg" = create ]; then
    touch ${dir}/create-started
    while [ ! -e ${dir}/release ]; do sleep 0.05; done
  fi
done
exec runc "$@"
`,
    { mode: 0o755 },
  );

  const shim = spawn(process.execPath, [SHIM_BINARY, 'warm'], {
    cwd: '/',
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    env: { ...process.env, TTRPC_ADDRESS: join(dir, 'events.sock') },
  });
  const shimPid = shim.pid!;
  let client: ShimClient | undefined;
  cleanUpAfter(t, shimPid, namespace, dir, () => client);
  const next = (type: FromWarmShim['type']) => new Promise<FromWarmShim>((resolve) => shim.on('message', (m: FromWarmShim) => m.type === type && resolve(m)));
  const ready = next('ready');
  await ready;
  const assigned = next('assigned');
  shim.send({ type: 'assign', seq: 1, namespace, id: 'c1', address: join(dir, 'ledgerd.sock'), bundle, debug: false, maxTasks: 1 });
  const socket = shimSocketPath((await assigned as { address: string }).address);

  client = await ShimClient.connect(socket, namespace);
  const options = { type_url: 'containerd.runc.v1.Options', value: encode(api.RuncOptions, { binary_name: runc }) };
  const create = client.call<{ pid: number }>('Create', api.CreateTaskRequest, { id: 'c1', bundle, rootfs: [{ type: 'bind', source: rootfs, target: '', options: ['rbind', 'rw'] }], options }, api.CreateTaskResponse, 60_000);
  create.catch(() => {}); // its connection goes with the daemon
  await until('runc create to be under way', () => existsSync(join(dir, 'create-started')), 30_000);

  // the daemon dies: its IPC channel and its ttrpc connection close
  shim.disconnect();
  await client.close();
  client = undefined;
  // a shim that ends on this removes its socket at once: give it the moment to (it must not)
  await sleep(500);
  assert.ok(existsSync(socket) && alive(shimPid), 'the shim stays while the Create is under way');
  writeFileSync(join(dir, 'release'), '');

  // the next daemon finds the container served
  const taskPid = await until('the container to be created', async () => {
    const c = await ShimClient.connect(socket, namespace);
    try {
      const { task_pid } = await c.call<{ task_pid: number }>('Connect', api.IdRequest, { id: 'c1' }, api.ConnectResponse);
      return task_pid || undefined;
    } finally {
      await c.close();
    }
  }, 30_000);
  assert.ok(alive(taskPid), 'the container runs');
  assert.ok(alive(shimPid), 'its shim serves it');

  // and once it is deleted the shim, with no daemon, ends
  client = await ShimClient.connect(socket, namespace);
  await killAndDelete(client, 'c1');
  assert.ok(!alive(taskPid), 'the container exited');
  await client.close();
  client = undefined;
  await until('the shim to exit', () => !alive(shimPid), 30_000);
});

test('a packed warm shim whose daemon dies right after assigning it another task keeps serving its container', { skip, timeout: 90_000 }, async (t) => {
  // the daemon dies before the shim has read the end of their IPC channel: its answer to the
  // assignment is written to a closed channel (EPIPE). That failure must not kill the shim (it
  // did: node raised it as an uncaught 'error' on process, and the shim exited with its socket
  // file left behind, refusing the next daemon's dial: every task it served was lost)
  const dir = mkdtempSync('/tmp/ledgerd-warm-epipe-');
  const namespace = `warm-epipe-${process.pid}`;
  const rootfs = busyboxRootfs(join(dir, 'rootfs'));
  const state = join(dir, 'state');
  const bundle = makeBundle(state, namespace, 'c1', ociSpec({ args: ['sleep', '1000'], cgroupsPath: `/ledgerd-test/${namespace}-c1` }));
  const packed = makeBundle(state, namespace, 'c2', ociSpec({ args: ['sleep', '1000'], cgroupsPath: `/ledgerd-test/${namespace}-c2` }));
  const stderrFile = join(dir, 'stderr');
  const stderr = openSync(stderrFile, 'a');
  const shim = spawn(process.execPath, [SHIM_BINARY, 'warm'], { cwd: '/', detached: true, stdio: ['ignore', 'ignore', stderr, 'ipc'], env: { ...process.env, TTRPC_ADDRESS: join(dir, 'events.sock') } });
  closeSync(stderr);
  const shimPid = shim.pid!;
  let exit: string | undefined;
  shim.once('exit', (code, signal) => (exit = `${signal ?? code}`));
  let client: ShimClient | undefined;
  cleanUpAfter(t, shimPid, namespace, dir, () => client);
  const next = (type: FromWarmShim['type']) => new Promise<FromWarmShim>((resolve) => shim.on('message', (m: FromWarmShim) => m.type === type && resolve(m)));
  await next('ready');
  const assigned = next('assigned');
  shim.send({ type: 'assign', seq: 1, namespace, id: 'c1', address: join(dir, 'ledgerd.sock'), bundle, debug: false, maxTasks: 8 });
  const socket = shimSocketPath((await assigned as { address: string }).address);
  client = await ShimClient.connect(socket, namespace);
  const { pid } = await client.call<{ pid: number }>('Create', api.CreateTaskRequest, { id: 'c1', bundle, rootfs: [{ type: 'bind', source: rootfs, target: '', options: ['rbind', 'rw'] }] }, api.CreateTaskResponse, 60_000);
  await client.close();
  client = undefined;

  // a second task is packed into the shim, and the daemon is gone before the answer
  shim.send({ type: 'assign', seq: 2, namespace, id: 'c2', address: join(dir, 'ledgerd.sock'), bundle: packed, debug: false, maxTasks: 8 });
  shim.disconnect();
  await until('the shim to take the packed task', () => existsSync(join(packed, 'address')), 30_000);

  // the next daemon finds the shim serving c1 (a round trip: the shim has gone past its answer)
  const again = (client = await ShimClient.connect(socket, namespace));
  const found = await again
    .call<{ task_pid: number }>('Connect', api.IdRequest, { id: 'c1' }, api.ConnectResponse)
    .then((r) => r.task_pid, (err: Error) => `${err.message}; the shim's stderr: ${readFileSync(stderrFile, 'utf8')}`);
  assert.equal(found, pid);
  assert.equal(exit, undefined);
  assert.ok(alive(shimPid));
  assert.doesNotMatch(readFileSync(stderrFile, 'utf8'), /fatal/);

  // and once its container is deleted (and the packed task's promise dropped) it ends
  await killAndDelete(again, 'c1', 'c2');
  await again.close();
  client = undefined;
  await until('the shim to exit', () => !alive(shimPid), 30_000);
});

test('a warm shim that dies of an uncaught error says why on its stderr (the daemon gives it a file)', { skip, timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync('/tmp/ledgerd-warm-fatal-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const stderrFile = join(dir, 'stderr');
  const stderr = openSync(stderrFile, 'a');
  const shim = spawn(process.execPath, [SHIM_BINARY, 'warm'], { cwd: '/', detached: true, stdio: ['ignore', 'ignore', stderr, 'ipc'], env: { ...process.env, TTRPC_ADDRESS: join(dir, 'events.sock') } });
  closeSync(stderr);
  t.after(() => void (alive(shim.pid!) && process.kill(shim.pid!, 'SIGKILL')));
  await new Promise<void>((resolve) => shim.on('message', (m: FromWarmShim) => m.type === 'ready' && resolve()));
  const exited = new Promise<number | null>((resolve) => shim.once('exit', resolve));
  shim.send(null as never); // a message its handler cannot read
  assert.equal(await exited, 1);
  assert.match(readFileSync(stderrFile, 'utf8'), new RegExp(`shim ${shim.pid}: fatal: TypeError: Cannot read properties of null`));
});

/** After the test: the client closed, the shim and its container gone, the namespace's leftovers and the directory removed. */
function cleanUpAfter(t: TestContext, shimPid: number, namespace: string, dir: string, client: () => ShimClient | undefined): void {
  t.after(async () => {
    await client()?.close();
    if (alive(shimPid)) process.kill(shimPid, 'SIGKILL');
    try {
      execFileSync('runc', ['--root', `/run/containerd/runc/${namespace}`, 'delete', '--force', 'c1'], { stdio: 'ignore' });
    } catch {
      // deleted already
    }
    removeNamespaceLeftovers(namespace);
    rmSync(dir, { recursive: true, force: true });
  });
}

/** Kills task `id` through the shim, waits for its exit to be collected, deletes it and asks the shim to shut down. */
async function killAndDelete(client: ShimClient, id: string, shutdownId = id): Promise<void> {
  await client.call('Kill', api.KillRequest, { id, signal: 9, all: true });
  await until('the exit to be collected', async () => (await client.call<{ status: number }>('State', api.ProcessRequest, { id }, api.StateResponse)).status === api.Status.STOPPED, 30_000);
  await client.call('Delete', api.ProcessRequest, { id }, api.DeleteResponse);
  await client.call('Shutdown', api.ShutdownRequest, { id: shutdownId }).catch(() => {});
}
