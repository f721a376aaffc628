// The shim's life around its daemon: it survives the daemon's death, it serves a group of
// containers from one process, and the `delete` action cleans up after a shim that died.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { decode } from '../../src/shims/wire/protocol/protowire.js';
import * as api from '../../src/shims/wire/protocol/task.js';
import { busyboxRootfs, makeBundle, ociSpec, removeNamespaceLeftovers, skipWithoutRunc } from '../helpers/shim-bundle.js';
import { alive, EventsServer, readFifo, runShimAction, ShimClient, startShim, stdinFifo } from '../helpers/own-shim.js';

const NS = `own-shim-life-${process.pid}`;
const FAKE_DAEMON = fileURLToPath(new URL('../helpers/fake-shim-daemon.js', import.meta.url));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
async function waitUntil(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(25);
  }
}
const mounted = (path: string) => readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${path} `);

describe('containerd-shim-ledger-v1 lifecycle', { skip: skipWithoutRunc }, () => {
  let dir: string;
  let rootfs: string;
  let state: string;
  let daemonAddress: string;
  let events: EventsServer;
  const shimPids = new Set<number>();
  const ids = new Set<string>();

  const rootfsMount = () => [{ type: 'bind', source: rootfs, target: '', options: ['rbind', 'rw'] }];
  const bundleFor = (id: string, args: string[], extra: Partial<Parameters<typeof ociSpec>[0]> = {}) => {
    ids.add(id);
    return makeBundle(state, NS, id, ociSpec({ args, cgroupsPath: `/${NS}/${id}`, ...extra }));
  };

  before(async () => {
    dir = mkdtempSync('/tmp/ownshim-life-');
    rootfs = busyboxRootfs(join(dir, 'busybox'));
    state = join(dir, 'state');
    daemonAddress = join(dir, 'containerd.sock');
    events = await EventsServer.listen(join(dir, 'daemon'));
  });

  after(async () => {
    for (const pid of shimPids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    for (const id of ids) {
      try {
        execFileSync('runc', ['--root', `/run/containerd/runc/${NS}`, 'delete', '-f', id], { stdio: 'ignore' });
      } catch {
        // deleted by the test
      }
    }
    for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n').reverse()) {
      const target = line.split(' ')[4];
      if (target?.startsWith(dir)) execFileSync('umount', ['-l', target], { stdio: 'ignore' });
    }
    await events.close();
    rmSync(dir, { recursive: true, force: true });
    removeNamespaceLeftovers(NS);
  });

  test('the shim and its container outlive the daemon (kill -9 of the daemon and its process group)', async () => {
    const id = 'survivor';
    // pid 1 of the container ignores SIGTERM unless it handles it: this one exits 42 on it
    const bundle = bundleFor(id, ['sh', '-c', 'trap "exit 42" TERM; sleep 1000 & wait']);
    const daemon = spawn(process.execPath, [FAKE_DAEMON, NS, id, bundle, rootfs, daemonAddress], { detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: daemon.stdout! }).once('line', resolve);
      daemon.once('exit', (code) => reject(new Error(`fake daemon exited ${code}`)));
    });
    const { address, shimPid, taskPid } = JSON.parse(line) as { address: string; shimPid: number; taskPid: number };
    shimPids.add(shimPid);
    process.kill(-daemon.pid!, 'SIGKILL'); // the daemon and its whole process group
    await new Promise((resolve) => daemon.once('exit', resolve));

    // a new daemon reconnects (shim_load.go: dial ./address, Connect) and finds the task running;
    // the shim answers after it has seen its daemon's end, so it outlived it rather than not yet noticed
    assert.equal(readFileSync(join(bundle, 'address'), 'utf8'), address);
    const shim = await ShimClient.connect(address.replace(/^unix:\/\//, ''), NS);
    const connect = await shim.call<{ shim_pid: number; task_pid: number }>('Connect', api.IdRequest, { id }, api.ConnectResponse);
    assert.deepEqual([connect.shim_pid, connect.task_pid], [shimPid, taskPid]);
    assert.ok(alive(shimPid), 'the shim is alive');
    assert.ok(alive(taskPid), 'the container is alive');
    assert.equal((await shim.call<{ status: number }>('State', api.ProcessRequest, { id }, api.StateResponse)).status, api.Status.RUNNING);
    const waited = shim.call<{ exit_status: number }>('Wait', api.ProcessRequest, { id }, api.WaitResponse);
    await shim.call('Kill', api.KillRequest, { id, signal: 15 });
    assert.equal((await waited).exit_status, 42);
    await shim.call('Delete', api.ProcessRequest, { id }, api.DeleteResponse);
    await shim.call('Shutdown', api.ShutdownRequest, { id });
    await shim.close();
    await waitUntil(() => !alive(shimPid), 'the shim to exit');
  });

  test('containers of one group share one shim; Shutdown waits for the last one', async () => {
    const group = { 'io.containerd.runc.v2.group': 'pod-1' };
    const bundles = ['g1', 'g2', 'g3'].map((id) => ({ id, bundle: bundleFor(id, ['sleep', '1000'], { annotations: group }) }));
    const started = [];
    for (const { id, bundle } of bundles) started.push(await startShim({ namespace: NS, id, bundle, daemonAddress, ttrpcAddress: events.socket }));
    assert.deepEqual(started.map((s) => s.code), [0, 0, 0]);
    assert.equal(new Set(started.map((s) => s.address)).size, 1, 'one address for the group');
    // a container outside the group gets its own shim
    const loner = bundleFor('loner', ['true']);
    const lonerStart = await startShim({ namespace: NS, id: 'loner', bundle: loner, daemonAddress });
    assert.notEqual(lonerStart.address, started[0]!.address);
    const lonerShim = await ShimClient.connect(lonerStart.socket, NS);
    const lonerPid = (await lonerShim.call<{ shim_pid: number }>('Connect', api.IdRequest, { id: 'loner' }, api.ConnectResponse)).shim_pid;
    shimPids.add(lonerPid);

    const shim = await ShimClient.connect(started[0]!.socket, NS);
    const { shim_pid } = await shim.call<{ shim_pid: number }>('Connect', api.IdRequest, { id: 'g1' }, api.ConnectResponse);
    shimPids.add(shim_pid);
    const pids = new Map<string, number>();
    for (const { id, bundle } of bundles) {
      pids.set(id, (await shim.call<{ pid: number }>('Create', api.CreateTaskRequest, { id, bundle, rootfs: rootfsMount() }, api.CreateTaskResponse)).pid);
      await shim.call('Start', api.ProcessRequest, { id }, api.StartResponse);
    }
    for (const { id } of bundles) {
      const c = await shim.call<{ shim_pid: number; task_pid: number }>('Connect', api.IdRequest, { id }, api.ConnectResponse);
      assert.deepEqual([c.shim_pid, c.task_pid], [shim_pid, pids.get(id)]);
    }
    for (const [n, { id }] of bundles.entries()) {
      const waited = shim.call<{ exit_status: number }>('Wait', api.ProcessRequest, { id }, api.WaitResponse);
      await shim.call('Kill', api.KillRequest, { id, signal: 9 });
      assert.equal((await waited).exit_status, 137);
      await shim.call('Delete', api.ProcessRequest, { id }, api.DeleteResponse);
      await shim.call('Shutdown', api.ShutdownRequest, { id });
      if (n < bundles.length - 1) {
        await sleep(300);
        assert.ok(alive(shim_pid), `the shim stays while it serves ${bundles.length - n - 1} more`);
      } else {
        await waitUntil(() => !alive(shim_pid), 'the shim to exit after its last container');
      }
    }
    await shim.close();
    await lonerShim.call('Shutdown', api.ShutdownRequest, { id: 'loner' });
    await lonerShim.close();
    await waitUntil(() => !alive(lonerPid), 'the loner shim to exit');
  });

  test('the delete action cleans up after a shim that was killed: runc container gone, rootfs unmounted, DeleteResponse{pid, 137}', async () => {
    const id = 'orphan';
    const bundle = bundleFor(id, ['sleep', '1000']);
    const started = await startShim({ namespace: NS, id, bundle, daemonAddress });
    const shim = await ShimClient.connect(started.socket, NS);
    const created = await shim.call<{ pid: number }>('Create', api.CreateTaskRequest, { id, bundle, rootfs: rootfsMount() }, api.CreateTaskResponse);
    await shim.call('Start', api.ProcessRequest, { id }, api.StartResponse);
    const { shim_pid } = await shim.call<{ shim_pid: number }>('Connect', api.IdRequest, { id }, api.ConnectResponse);
    await shim.close();
    process.kill(shim_pid, 'SIGKILL');
    await waitUntil(() => !alive(shim_pid), 'the shim to die');
    assert.ok(mounted(join(bundle, 'rootfs')));

    const result = await runShimAction('delete', { namespace: NS, id, bundle, daemonAddress });
    assert.equal(result.code, 0, result.stderr);
    const response = decode<{ pid: number; exit_status: number; exited_at?: { seconds: number } }>(api.DeleteResponse, result.stdout);
    assert.equal(response.pid, created.pid);
    assert.equal(response.exit_status, 137);
    assert.ok(Math.abs((response.exited_at?.seconds ?? 0) - Date.now() / 1000) < 60);
    await waitUntil(() => !alive(created.pid), 'the container to be killed');
    assert.ok(!mounted(join(bundle, 'rootfs')), 'rootfs unmounted');
    assert.throws(() => execFileSync('runc', ['--root', `/run/containerd/runc/${NS}`, 'state', id], { stdio: 'pipe' }), /does not exist/);
    // nothing left to clean: delete again still answers
    const again = await runShimAction('delete', { namespace: NS, id, bundle, daemonAddress });
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(decode<{ pid: number; exit_status: number }>(api.DeleteResponse, again.stdout).exit_status, 137);
  });

  test('without a pid namespace, the exit of the init kills the rest and the shim reaps the orphans it inherits', async () => {
    const id = 'hostpid';
    const bundle = bundleFor(id, ['sh', '-c', 'sleep 1000 & echo $! > /tmp/bg-pid; exit 3'], { hostPid: true });
    const started = await startShim({ namespace: NS, id, bundle, daemonAddress });
    const shim = await ShimClient.connect(started.socket, NS);
    await shim.call('Create', api.CreateTaskRequest, { id, bundle, rootfs: rootfsMount() }, api.CreateTaskResponse);
    const { shim_pid } = await shim.call<{ shim_pid: number }>('Connect', api.IdRequest, { id }, api.ConnectResponse);
    shimPids.add(shim_pid);
    const waited = shim.call<{ exit_status: number }>('Wait', api.ProcessRequest, { id }, api.WaitResponse);
    await shim.call('Start', api.ProcessRequest, { id }, api.StartResponse);
    assert.equal((await waited).exit_status, 3);
    const background = Number(readFileSync(join(rootfs, 'tmp/bg-pid'), 'utf8'));
    assert.ok(background > 0);
    // killed (runc kill --all) and reaped by the shim: no process, not even a zombie
    await waitUntil(() => !existsSync(`/proc/${background}`), `pid ${background} to be killed and reaped`);
    await shim.call('Delete', api.ProcessRequest, { id }, api.DeleteResponse);
    await shim.call('Shutdown', api.ShutdownRequest, { id });
    await shim.close();
  });

  test('stdio URIs: file:// appends stdout and stderr to one file, binary:// hands them to a logging process', async () => {
    const id = 'uris';
    const bundle = bundleFor(id, ['sh', '-c', 'echo out-line; echo err-line >&2; exit 0']);
    const started = await startShim({ namespace: NS, id, bundle, daemonAddress });
    const shim = await ShimClient.connect(started.socket, NS);
    const { shim_pid } = await shim.call<{ shim_pid: number }>('Connect', api.IdRequest, { id }, api.ConnectResponse);
    shimPids.add(shim_pid);
    const file = join(dir, 'logs', 'uris.log');
    await shim.call('Create', api.CreateTaskRequest, { id, bundle, stdout: `file://${file}`, stderr: `file://${file}`, rootfs: rootfsMount() }, api.CreateTaskResponse);
    let waited = shim.call<{ exit_status: number }>('Wait', api.ProcessRequest, { id }, api.WaitResponse);
    await shim.call('Start', api.ProcessRequest, { id }, api.StartResponse);
    assert.equal((await waited).exit_status, 0);

    // an exec whose output goes to a logging binary (containerd's binary:// protocol: fds 3, 4, ready on 5)
    const logger = join(dir, 'logger.sh');
    writeFileSync(logger, `#!/bin/sh\nexec 5>&-\ncat <&3 > "$1.out" & cat <&4 > "$1.err" &\necho "$CONTAINER_NAMESPACE/$CONTAINER_ID" > "$1.env"\nwait\n`, { mode: 0o755 });
    const prefix = join(dir, 'logs', 'binary');
    await shim.call('Delete', api.ProcessRequest, { id }, api.DeleteResponse);
    await shim.call('Create', api.CreateTaskRequest, { id, bundle, stdout: `binary://${logger}?${prefix}`, stderr: `binary://${logger}?${prefix}`, rootfs: rootfsMount() }, api.CreateTaskResponse);
    waited = shim.call<{ exit_status: number }>('Wait', api.ProcessRequest, { id }, api.WaitResponse);
    await shim.call('Start', api.ProcessRequest, { id }, api.StartResponse);
    assert.equal((await waited).exit_status, 0);
    await waitUntil(() => existsSync(`${prefix}.err`) && readFileSync(`${prefix}.err`, 'utf8') !== '' && readFileSync(`${prefix}.out`, 'utf8') !== '', 'the logger output');
    assert.equal(readFileSync(`${prefix}.out`, 'utf8'), 'out-line\n');
    assert.equal(readFileSync(`${prefix}.err`, 'utf8'), 'err-line\n');
    assert.equal(readFileSync(`${prefix}.env`, 'utf8'), `${NS}/${id}\n`);
    await shim.call('Delete', api.ProcessRequest, { id }, api.DeleteResponse);
    await shim.call('Shutdown', api.ShutdownRequest, { id });
    await shim.close();
    const text = readFileSync(file, 'utf8');
    assert.ok(text === 'out-line\nerr-line\n' || text === 'err-line\nout-line\n', text);
  });

  test('terminal: the pty reaches stdout, stdin reaches the process, ResizePty sets the window size', async () => {
    const id = 'tty';
    const bundle = bundleFor(id, ['sh', '-c', 'tty; stty size; read x; echo "got $x"; exit 4'], { terminal: true });
    const started = await startShim({ namespace: NS, id, bundle, daemonAddress });
    const shim = await ShimClient.connect(started.socket, NS);
    const stdout = readFifo(join(dir, 'tty-stdout'));
    const stdin = stdinFifo(join(dir, 'tty-stdin'));
    await shim.call('Create', api.CreateTaskRequest, { id, bundle, terminal: true, stdin: stdin.path, stdout: stdout.path, rootfs: rootfsMount() }, api.CreateTaskResponse);
    const { shim_pid } = await shim.call<{ shim_pid: number }>('Connect', api.IdRequest, { id }, api.ConnectResponse);
    shimPids.add(shim_pid);
    await shim.call('ResizePty', api.ResizePtyRequest, { id, width: 91, height: 33 });
    const waited = shim.call<{ exit_status: number }>('Wait', api.ProcessRequest, { id }, api.WaitResponse);
    await shim.call('Start', api.ProcessRequest, { id }, api.StartResponse);
    await waitUntil(() => stdout.text().includes('33 91'), 'the window size on the terminal');
    stdin.write('typed\n');
    assert.equal((await waited).exit_status, 4);
    const text = await stdout.ended;
    assert.match(text, /^\/dev\/pts\/\d+\r\n33 91\r\n/);
    assert.match(text, /got typed\r\n$/);
    await shim.call('Delete', api.ProcessRequest, { id }, api.DeleteResponse);
    await shim.call('Shutdown', api.ShutdownRequest, { id });
    await shim.close();
  });

  test('an ending shim removes its socket before delivering its last events: a new shim for the same id never joins it', async () => {
    const id = 'ending';
    // an events socket that takes the shim's connection and never answers: its last events wait
    const held = new Set<Socket>();
    const silent = createServer((socket) => {
      held.add(socket);
      socket.on('close', () => held.delete(socket));
    });
    const silentPath = join(dir, 'silent.sock');
    await new Promise<void>((resolve) => silent.listen(silentPath, resolve));
    try {
      const bundle = bundleFor(id, ['true']);
      const started = await startShim({ namespace: NS, id, bundle, daemonAddress, ttrpcAddress: silentPath });
      const shim = await ShimClient.connect(started.socket, NS);
      const shimPid = (await shim.call<{ shim_pid: number }>('Connect', api.IdRequest, { id }, api.ConnectResponse)).shim_pid;
      shimPids.add(shimPid);
      await shim.call('Create', api.CreateTaskRequest, { id, bundle, rootfs: rootfsMount() }, api.CreateTaskResponse);
      const waited = shim.call('Wait', api.ProcessRequest, { id }, api.WaitResponse);
      await shim.call('Start', api.ProcessRequest, { id }, api.StartResponse);
      await waited;
      await shim.call('Delete', api.ProcessRequest, { id }, api.DeleteResponse);
      await waitUntil(() => held.size > 0, 'the shim to connect to the events socket');
      await shim.call('Shutdown', api.ShutdownRequest, { id });
      await shim.close();
      await waitUntil(() => !existsSync(started.socket), 'the socket to go');
      assert.ok(held.size > 0 && alive(shimPid), 'its socket went while the shim still tries to deliver its events');
      await waitUntil(() => !alive(shimPid), 'the shim to exit', 10_000);
    } finally {
      for (const socket of held) socket.destroy();
      silent.close();
    }
  });

  test('OOM: a container over its memory limit is reported with /tasks/oom, then exits 137', async () => {
    const id = 'oom';
    const bundle = bundleFor(id, ['sh', '-c', 'x=a; while true; do x="$x$x"; done'], { memoryLimit: 8 << 20 });
    const started = await startShim({ namespace: NS, id, bundle, daemonAddress, ttrpcAddress: events.socket });
    const shim = await ShimClient.connect(started.socket, NS);
    shimPids.add((await shim.call<{ shim_pid: number }>('Connect', api.IdRequest, { id }, api.ConnectResponse)).shim_pid);
    await shim.call('Create', api.CreateTaskRequest, { id, bundle, rootfs: rootfsMount() }, api.CreateTaskResponse);
    const waited = shim.call<{ exit_status: number }>('Wait', api.ProcessRequest, { id }, api.WaitResponse);
    await shim.call('Start', api.ProcessRequest, { id }, api.StartResponse);
    assert.equal((await waited).exit_status, 137);
    const oom = await events.waitFor('/tasks/oom', (e) => e.container_id === id);
    assert.equal(oom.typeUrl, 'containerd.events.TaskOOM');
    await shim.call('Delete', api.ProcessRequest, { id }, api.DeleteResponse);
    await shim.call('Shutdown', api.ShutdownRequest, { id });
    await shim.close();
    await waitUntil(() => !existsSync(started.socket), 'the shim to exit and remove its socket');
  });
});
