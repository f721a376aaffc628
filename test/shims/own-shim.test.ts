// ledgerd's own runc shim, driven as a daemon drives a shim v2: `start` in a bundle, ttrpc
// containerd.task.v2.Task calls, events received through Forward. Real runc, real busybox.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decode } from '../../src/shims/wire/protocol/protowire.js';
import { MetricsV1 } from '../../src/shims/wire/protocol/metrics-v1.js';
import * as api from '../../src/shims/wire/protocol/task.js';
import { Code, TtrpcError } from '../../src/shims/wire/ttrpc/index.js';
import { busyboxRootfs, makeBundle, ociSpec, removeNamespaceLeftovers, skipWithoutRunc } from '../helpers/shim-bundle.js';
import { alive, EventsServer, readFifo, ShimClient, startShim, stdinFifo } from '../helpers/own-shim.js';

const NS = `own-shim-${process.pid}`;
const ID = 'c1';

describe('containerd-shim-ledger-v1 as a shim v2', { skip: skipWithoutRunc }, () => {
  let dir: string;
  let rootfs: string;
  let state: string;
  let events: EventsServer;
  let bundle: string;
  let shim: ShimClient;
  let shimPid: number;
  let socket: string;

  const rootfsMount = () => [{ type: 'bind', source: rootfs, target: '', options: ['rbind', 'rw'] }];
  const code = async (promise: Promise<unknown>): Promise<{ code: number; message: string }> => {
    try {
      await promise;
    } catch (err) {
      assert.ok(err instanceof TtrpcError, String(err));
      return { code: err.code, message: err.message };
    }
    assert.fail('the call succeeded');
  };

  before(async () => {
    dir = mkdtempSync('/tmp/ownshim-');
    rootfs = busyboxRootfs(join(dir, 'busybox'));
    state = join(dir, 'state');
    events = await EventsServer.listen(join(dir, 'daemon'));
    bundle = makeBundle(state, NS, ID, ociSpec({ args: ['sh', '-c', 'echo to-stdout; echo to-stderr >&2; exit 7'], cgroupsPath: `/${NS}/${ID}` }));
  });

  after(async () => {
    await shim?.close().catch(() => {});
    if (shimPid && alive(shimPid)) process.kill(shimPid, 'SIGKILL');
    for (const id of [ID, 'c2']) {
      try {
        execFileSync('runc', ['--root', `/run/containerd/runc/${NS}`, 'delete', '-f', id], { stdio: 'ignore' });
      } catch {
        // not there: the test deleted it
      }
    }
    for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const target = line.split(' ')[4];
      if (target?.startsWith(dir)) execFileSync('umount', ['-l', target], { stdio: 'ignore' });
    }
    await events.close();
    rmSync(dir, { recursive: true, force: true });
    removeNamespaceLeftovers(NS);
  });

  test('start prints a unix address under the state directory, writes ./address, and the shim answers Connect', async () => {
    const started = await startShim({ namespace: NS, id: ID, bundle, daemonAddress: join(dir, 'daemon', 'grpc.sock'), ttrpcAddress: events.socket });
    assert.equal(started.code, 0, started.stderr);
    assert.match(started.address, /^unix:\/\/.+\/s\/[0-9a-f]{64}$/);
    assert.equal(started.stdout, started.address, 'nothing but the address on stdout');
    socket = started.socket;
    assert.ok(socket.startsWith(join(state, 's') + '/'), socket);
    assert.equal(statSync(join(state, 's')).mode & 0o777, 0o700);
    assert.ok(statSync(socket).isSocket());
    assert.equal(readFileSync(join(bundle, 'address'), 'utf8'), started.address);
    shim = await ShimClient.connect(socket, NS);
    const connect = await shim.call<{ shim_pid: number; task_pid: number }>('Connect', api.IdRequest, { id: ID }, api.ConnectResponse);
    shimPid = connect.shim_pid;
    assert.ok(shimPid > 0 && shimPid !== process.pid && alive(shimPid));
    assert.equal(connect.task_pid, 0, 'no task yet');
    // a new session: the daemon's process group and terminal do not reach it
    const stat = readFileSync(`/proc/${shimPid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    assert.equal(Number(fields[3]), shimPid, 'session leader (setsid)');
  });

  test('Create, Wait, Start: sh -c "exit 7" exits 7, its output arrives through the FIFOs, events in order', async () => {
    const fifos = join(dir, 'fifo', ID);
    mkdirSync(fifos, { recursive: true });
    const stdout = readFifo(join(fifos, `${ID}-stdout`));
    const stderr = readFifo(join(fifos, `${ID}-stderr`));
    const created = await shim.call<{ pid: number }>(
      'Create',
      api.CreateTaskRequest,
      { id: ID, bundle, rootfs: rootfsMount(), stdout: stdout.path, stderr: stderr.path },
      api.CreateTaskResponse,
    );
    assert.ok(created.pid > 0);
    assert.ok(readFileSync('/proc/self/mountinfo', 'utf8').includes(join(bundle, 'rootfs')), 'rootfs mounted');
    const state1 = await shim.call<{ status: number; pid: number }>('State', api.ProcessRequest, { id: ID }, api.StateResponse);
    assert.equal(state1.status, api.Status.CREATED);
    assert.equal(state1.pid, created.pid);
    const waited = shim.call<{ exit_status: number; exited_at?: { seconds: number } }>('Wait', api.ProcessRequest, { id: ID }, api.WaitResponse);
    const started = await shim.call<{ pid: number }>('Start', api.ProcessRequest, { id: ID }, api.StartResponse);
    assert.equal(started.pid, created.pid);
    const exit = await waited;
    assert.equal(exit.exit_status, 7);
    assert.ok(Math.abs((exit.exited_at?.seconds ?? 0) - Date.now() / 1000) < 60);
    assert.equal(await stdout.ended, 'to-stdout\n');
    assert.equal(await stderr.ended, 'to-stderr\n');

    const exitEvent = await events.waitFor('/tasks/exit', (e) => e.container_id === ID);
    assert.deepEqual(
      events.received.map((e) => e.topic),
      ['/tasks/create', '/tasks/start', '/tasks/exit'],
    );
    assert.equal(exitEvent.namespace, NS);
    assert.equal(exitEvent.typeUrl, 'containerd.events.TaskExit');
    assert.equal(exitEvent.event.exit_status, 7);
    assert.equal(exitEvent.event.id, ID);
    assert.equal(exitEvent.event.pid, created.pid);
    const create = events.received[0]!.event as { bundle: string; pid: number; io: { stdout: string } };
    assert.equal(create.bundle, bundle);
    assert.equal(create.pid, created.pid);
    assert.equal(create.io.stdout, stdout.path);

    const stopped = await shim.call<{ status: number; exit_status: number }>('State', api.ProcessRequest, { id: ID }, api.StateResponse);
    assert.equal(stopped.status, api.Status.STOPPED);
    assert.equal(stopped.exit_status, 7);
    // wrong transitions carry containerd's messages and codes
    assert.deepEqual(await code(shim.call('Start', api.ProcessRequest, { id: ID })), { code: Code.Unknown, message: 'cannot start a stopped process' });
    assert.deepEqual(await code(shim.call('Kill', api.KillRequest, { id: ID, signal: 9 })), { code: Code.NotFound, message: 'process already finished: not found' });
    assert.deepEqual(await code(shim.call('State', api.ProcessRequest, { id: 'nope' })), { code: Code.NotFound, message: 'container not created: not found' });

    const deleted = await shim.call<{ pid: number; exit_status: number }>('Delete', api.ProcessRequest, { id: ID }, api.DeleteResponse);
    assert.deepEqual([deleted.pid, deleted.exit_status], [created.pid, 7]);
    assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes(join(bundle, 'rootfs')), 'rootfs unmounted');
    const del = await events.waitFor('/tasks/delete');
    assert.equal(del.event.exit_status, 7);
    assert.equal(del.event.id, '', 'TaskDelete.id is left empty, as containerd');
  });

  test('a running container: exec with stdin and its own exit code, Pids, Pause/Resume, Stats, Update, Kill SIGKILL -> 137', async () => {
    // a second container served by the same shim
    const id = 'c2';
    const b2 = makeBundle(state, NS, id, ociSpec({ args: ['sleep', '1000'], cgroupsPath: `/${NS}/${id}` }));
    const created = await shim.call<{ pid: number }>('Create', api.CreateTaskRequest, { id, bundle: b2, rootfs: rootfsMount() }, api.CreateTaskResponse);
    assert.deepEqual(await code(shim.call('Exec', api.ExecProcessRequest, { id, exec_id: 'x0', spec: processSpec(['true']) })), {
      code: Code.Unknown,
      message: 'cannot exec in a created state',
    });
    await shim.call('Start', api.ProcessRequest, { id }, api.StartResponse);
    assert.deepEqual(await code(shim.call('Start', api.ProcessRequest, { id })), { code: Code.Unknown, message: 'cannot start a running process' });
    assert.equal((await shim.call<{ task_pid: number }>('Connect', api.IdRequest, { id }, api.ConnectResponse)).task_pid, created.pid);

    // exec: stdin through a FIFO, stdout back, exit code 5
    const fifos = join(dir, 'fifo', 'x1');
    mkdirSync(fifos, { recursive: true });
    const stdin = stdinFifo(join(fifos, 'x1-stdin'));
    const stdout = readFifo(join(fifos, 'x1-stdout'));
    await shim.call('Exec', api.ExecProcessRequest, { id, exec_id: 'x1', stdin: stdin.path, stdout: stdout.path, spec: processSpec(['sh', '-c', 'read line; echo "got $line"; exit 5']) });
    assert.deepEqual(await code(shim.call('Exec', api.ExecProcessRequest, { id, exec_id: 'x1', spec: processSpec(['true']) })), { code: Code.AlreadyExists, message: 'id x1: already exists' });
    await events.waitFor('/tasks/exec-added', (e) => e.exec_id === 'x1');
    const waited = shim.call<{ exit_status: number }>('Wait', api.ProcessRequest, { id, exec_id: 'x1' }, api.WaitResponse);
    const exec = await shim.call<{ pid: number }>('Start', api.ProcessRequest, { id, exec_id: 'x1' }, api.StartResponse);
    assert.ok(exec.pid > 0 && exec.pid !== created.pid);
    assert.equal((await events.waitFor('/tasks/exec-started', (e) => e.exec_id === 'x1')).event.pid, exec.pid);

    const pids = await shim.call<{ processes: Array<{ pid: number; info?: { type_url: string; value: Uint8Array } }> }>('Pids', api.IdRequest, { id }, api.PidsResponse);
    assert.deepEqual(pids.processes.map((p) => p.pid).sort(), [created.pid, exec.pid].sort());
    const execInfo = pids.processes.find((p) => p.pid === exec.pid)!.info!;
    assert.equal(execInfo.type_url, 'containerd.runc.v1.ProcessDetails');
    assert.deepEqual(decode(api.ProcessDetails, execInfo.value), { exec_id: 'x1' });
    assert.equal(pids.processes.find((p) => p.pid === created.pid)!.info, undefined);

    stdin.write('hello\n');
    assert.equal((await waited).exit_status, 5);
    assert.equal(await stdout.ended, 'got hello\n');
    const execExit = await events.waitFor('/tasks/exit', (e) => e.id === 'x1');
    assert.deepEqual([execExit.event.container_id, execExit.event.pid, execExit.event.exit_status], [id, exec.pid, 5]);
    const deletedExec = await shim.call<{ pid: number; exit_status: number }>('Delete', api.ProcessRequest, { id, exec_id: 'x1' }, api.DeleteResponse);
    assert.deepEqual([deletedExec.pid, deletedExec.exit_status], [exec.pid, 5]);
    assert.deepEqual(await code(shim.call('State', api.ProcessRequest, { id, exec_id: 'x1' })), { code: Code.NotFound, message: 'process does not exist x1: not found' });

    // an exec that exits at once still reports its exact status
    await shim.call('Exec', api.ExecProcessRequest, { id, exec_id: 'fast', spec: processSpec(['sh', '-c', 'exit 42']) });
    const fastWait = shim.call<{ exit_status: number }>('Wait', api.ProcessRequest, { id, exec_id: 'fast' }, api.WaitResponse);
    await shim.call('Start', api.ProcessRequest, { id, exec_id: 'fast' }, api.StartResponse);
    assert.equal((await fastWait).exit_status, 42);

    // pause / resume
    await shim.call('Pause', api.IdRequest, { id });
    assert.equal((await shim.call<{ status: number }>('State', api.ProcessRequest, { id }, api.StateResponse)).status, api.Status.PAUSED);
    assert.equal(readFileSync(`/sys/fs/cgroup/freezer/${NS}/${id}/freezer.state`, 'utf8').trim(), 'FROZEN');
    assert.deepEqual(await code(shim.call('Pause', api.IdRequest, { id })), { code: Code.Unknown, message: 'cannot pause a paused container' });
    await shim.call('Resume', api.IdRequest, { id });
    assert.equal((await shim.call<{ status: number }>('State', api.ProcessRequest, { id }, api.StateResponse)).status, api.Status.RUNNING);
    await events.waitFor('/tasks/paused');
    await events.waitFor('/tasks/resumed');

    // stats: cgroup v1 Metrics from the container's cgroup
    const stats = await shim.call<{ stats?: { type_url: string; value: Uint8Array } }>('Stats', api.IdRequest, { id }, api.StatsResponse);
    assert.equal(stats.stats?.type_url, 'io.containerd.cgroups.v1.Metrics');
    const metrics = decode<{ pids?: { current: number }; memory?: { usage?: { usage: number } }; cpu?: { usage?: { total: number } } }>(MetricsV1, stats.stats!.value);
    assert.equal(metrics.pids?.current, 1);
    assert.ok((metrics.memory?.usage?.usage ?? 0) > 0);
    assert.ok((metrics.cpu?.usage?.total ?? 0) > 0);

    // update: runc update with LinuxResources JSON
    await shim.call('Update', api.UpdateTaskRequest, { id, resources: { type_url: 'types.containerd.io/opencontainers/runtime-spec/1/LinuxResources', value: Buffer.from(JSON.stringify({ pids: { limit: 77 } })) } });
    assert.equal(readFileSync(`/sys/fs/cgroup/pids/${NS}/${id}/pids.max`, 'utf8').trim(), '77');

    // kill -9 -> 137; a running task cannot be deleted first
    assert.deepEqual(await code(shim.call('Delete', api.ProcessRequest, { id })), { code: Code.Unknown, message: 'cannot delete a running process' });
    const killed = shim.call<{ exit_status: number }>('Wait', api.ProcessRequest, { id }, api.WaitResponse);
    await shim.call('Kill', api.KillRequest, { id, signal: 9 });
    assert.equal((await killed).exit_status, 137);
    const deleted = await shim.call<{ exit_status: number }>('Delete', api.ProcessRequest, { id }, api.DeleteResponse);
    assert.equal(deleted.exit_status, 137);
    assert.ok(!existsSync(`/sys/fs/cgroup/pids/${NS}/${id}`), 'runc delete removed the cgroup');
  });

  test('Shutdown: the shim exits once it serves no container and removes its socket', async () => {
    await shim.call('Shutdown', api.ShutdownRequest, { id: ID });
    for (let i = 0; i < 100 && alive(shimPid); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(!alive(shimPid), 'the shim exited');
    assert.ok(!existsSync(socket), 'socket removed');
  });
});

function processSpec(args: string[]): { type_url: string; value: Uint8Array } {
  return {
    type_url: 'types.containerd.io/opencontainers/runtime-spec/1/Process',
    value: Buffer.from(JSON.stringify({ args, cwd: '/', env: ['PATH=/bin'], user: { uid: 0, gid: 0 } })),
  };
}
