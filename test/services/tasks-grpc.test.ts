// The Tasks gRPC service on the wire, in process, over the shim-like runtime of
// test/helpers/task-runtime.ts: containerd's codes and messages as a gRPC client sees them, and the
// real `ctr` (tasks ls/ps/pause/resume/kill/metrics/delete, events) reading what it expects.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { status, type ServiceError } from '@grpc/grpc-js';
import { EventLog } from '../../src/log/index.js';
import { ProjectionSet, containersProjection, tasksProjection } from '../../src/projections/index.js';
import { ContainerCommands } from '../../src/commands/containers.js';
import { TaskCommands } from '../../src/commands/tasks.js';
import { containersService, CONTAINERS_SERVICE } from '../../src/services/containers.js';
import { tasksService, TASKS_SERVICE } from '../../src/services/tasks.js';
import { eventsService, EVENTS_SERVICE } from '../../src/services/events.js';
import { encodeMessage } from '../../src/api/proto.js';
import { listenGrpc, stopGrpc } from '../../src/daemon/grpc-server.js';
import { Connection } from '../../src/cli/grpc-client.js';
import { skipWithoutCtr } from '../helpers/ctr.js';
import { tempDir } from '../helpers/tmp.js';
import { InMemoryTaskRuntime } from '../helpers/task-runtime.js';

const run = promisify(execFile);
const SPEC = { type_url: 'types.containerd.io/opencontainers/runtime-spec/1/Spec', value: Buffer.from('{"ociVersion":"1.0.2","process":{"args":["sleep","9"]}}') };
const error = (code: number, message: RegExp) => (err: ServiceError) => err.code === code && message.test(err.details);

async function serve(t: TestContext) {
  const dir = tempDir(t);
  const log = EventLog.open({ dir: join(dir, 'log') });
  const projections = new ProjectionSet(log);
  const containersView = projections.add(containersProjection);
  const tasksView = projections.add(tasksProjection);
  projections.start();
  const runtime = new InMemoryTaskRuntime();
  runtime.stats = { typeUrl: 'io.containerd.cgroups.v1.Metrics', value: encodeMessage('io.containerd.cgroups.v1.Metrics', { pids: { current: 3, limit: 100 }, memory: { usage: { usage: 4096, limit: 8192 } } }) };
  const containers = new ContainerCommands({ log, projections }, containersView);
  const tasks = new TaskCommands({ log, projections }, tasksView, containersView, runtime);
  const address = join(dir, 'grpc.sock');
  const server = await listenGrpc(
    [
      { name: CONTAINERS_SERVICE, implementation: containersService(containers) },
      { name: TASKS_SERVICE, implementation: tasksService(tasks) },
      { name: EVENTS_SERVICE, implementation: eventsService(log) },
    ],
    { address, uid: process.getuid!(), gid: process.getgid!(), maxRecvMessageSize: 16 << 20, maxSendMessageSize: 16 << 20 },
  );
  const connections: Connection[] = [];
  t.after(async () => {
    connections.forEach((c) => c.close());
    await stopGrpc(server, 500);
    tasks.close();
    await projections.stop();
    await log.close();
  });
  const connect = (ns: string) => {
    const c = new Connection(address, ns);
    connections.push(c);
    return c;
  };
  // ctr runs asynchronously: this process serves its calls
  const ctr = async (ns: string, ...args: string[]) => (await run('ctr', ['--address', address, '-n', ns, ...args], { timeout: 20_000 })).stdout;
  return { address, runtime, tasks, connect, ctr };
}

test('Tasks over gRPC: containerd codes and messages, exit status through Wait and Delete', async (t) => {
  const { runtime, connect } = await serve(t);
  const c = connect('tns');
  await c.unary(CONTAINERS_SERVICE, 'Create', { container: { id: 'c1', runtime: { name: 'io.containerd.runc.v2' }, spec: SPEC } });

  await assert.rejects(c.unary(TASKS_SERVICE, 'Create', { container_id: 'nope' }), error(status.NOT_FOUND, /^container "nope" in namespace "tns": not found$/));
  await assert.rejects(c.unary(TASKS_SERVICE, 'Get', { container_id: 'c1' }), error(status.NOT_FOUND, /^task c1 not found$/));
  await assert.rejects(c.unary(TASKS_SERVICE, 'Start', { container_id: 'c1' }), error(status.NOT_FOUND, /^task c1 not found$/));
  await assert.rejects(new Connection(c.address, undefined).unary(TASKS_SERVICE, 'List', {}), error(status.FAILED_PRECONDITION, /namespace is required/));

  const created = await c.unary<{ container_id: string; pid: number }>(TASKS_SERVICE, 'Create', {
    container_id: 'c1',
    rootfs: [{ type: 'bind', source: '/tmp', target: '', options: ['rbind'] }],
    stdout: '/run/x/out',
  });
  assert.equal(created.container_id, 'c1');
  assert.ok(created.pid > 0);
  await assert.rejects(c.unary(TASKS_SERVICE, 'Create', { container_id: 'c1' }), error(status.ALREADY_EXISTS, /^task c1: already exists$/));
  const got = await c.unary<{ process: Record<string, unknown> }>(TASKS_SERVICE, 'Get', { container_id: 'c1' });
  assert.deepEqual([got.process.container_id, got.process.id, got.process.pid, got.process.status, got.process.stdout], ['', 'c1', created.pid, 'CREATED', '/run/x/out']);

  const waiting = c.unary<{ exit_status: number; exited_at: { seconds: number } }>(TASKS_SERVICE, 'Wait', { container_id: 'c1' });
  await c.unary(TASKS_SERVICE, 'Start', { container_id: 'c1' });
  await assert.rejects(c.unary(TASKS_SERVICE, 'Start', { container_id: 'c1' }), error(status.UNKNOWN, /^cannot start a running process$/));
  await assert.rejects(c.unary(TASKS_SERVICE, 'Delete', { container_id: 'c1' }), error(status.UNKNOWN, /^failed to delete task: cannot delete a running process$/));
  await assert.rejects(c.unary(TASKS_SERVICE, 'Exec', { container_id: 'c1', exec_id: '' }), error(status.INVALID_ARGUMENT, /^exec id cannot be empty$/));
  await assert.rejects(c.unary(TASKS_SERVICE, 'Exec', { container_id: 'c1', exec_id: '-x' }), error(status.INVALID_ARGUMENT, /^invalid exec id -x: identifier "-x" must match .*: invalid argument$/));
  await assert.rejects(c.unary(TASKS_SERVICE, 'Get', { container_id: 'c1', exec_id: 'e7' }), error(status.NOT_FOUND, /^process does not exist e7: not found$/));
  await assert.rejects(c.unary(TASKS_SERVICE, 'Checkpoint', { container_id: 'c1' }), error(status.UNIMPLEMENTED, /checkpoint of task c1/));
  // containerd answers Unknown here; bad input is InvalidArgument
  await assert.rejects(c.unary(TASKS_SERVICE, 'Metrics', { filters: ['id=='] }), error(status.INVALID_ARGUMENT, /parse error.*: invalid argument$/));

  runtime.task('tns', 'c1').end(runtime.task('tns', 'c1').init, 7);
  const exit = await waiting;
  assert.equal(exit.exit_status, 7);
  assert.ok(exit.exited_at.seconds > 1_700_000_000);
  await assert.rejects(c.unary(TASKS_SERVICE, 'Kill', { container_id: 'c1', signal: 9 }), error(status.NOT_FOUND, /^process already finished: not found$/));
  const deleted = await c.unary<{ id: string; pid: number; exit_status: number }>(TASKS_SERVICE, 'Delete', { container_id: 'c1' });
  assert.deepEqual([deleted.id, deleted.pid, deleted.exit_status], ['', created.pid, 7]);
  const { tasks } = await c.unary<{ tasks: unknown[] }>(TASKS_SERVICE, 'List', {});
  assert.deepEqual(tasks, []);
});

test('the real ctr: tasks ls, ps, pause, resume, metrics, kill, delete, and /tasks/* in ctr events', { skip: skipWithoutCtr }, async (t) => {
  const { address, runtime, connect, ctr } = await serve(t);
  const events = spawn('ctr', ['--address', address, 'events'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let printed = '';
  events.stdout.on('data', (chunk: Buffer) => (printed += chunk.toString()));
  t.after(() => events.kill());
  await new Promise((resolve) => setTimeout(resolve, 500));

  const c = connect('ctrns');
  await c.unary(CONTAINERS_SERVICE, 'Create', { container: { id: 'web', runtime: { name: 'io.containerd.runc.v2' }, spec: SPEC } });
  const { pid } = await c.unary<{ pid: number }>(TASKS_SERVICE, 'Create', { container_id: 'web' });
  await c.unary(TASKS_SERVICE, 'Start', { container_id: 'web' });
  await c.unary(TASKS_SERVICE, 'Exec', { container_id: 'web', exec_id: 'sh1', spec: { type_url: 'types.containerd.io/opencontainers/runtime-spec/1/Process', value: Buffer.from('{"args":["sh"]}') } });
  await c.unary(TASKS_SERVICE, 'Start', { container_id: 'web', exec_id: 'sh1' });

  assert.match(await ctr('ctrns', 'tasks', 'ls'), new RegExp(`^TASK\\s+PID\\s+STATUS\\s*\\nweb\\s+${pid}\\s+RUNNING\\s*\\n$`));
  const ps = await ctr('ctrns', 'tasks', 'ps', 'web');
  assert.match(ps, new RegExp(`^PID\\s+INFO\\s*\\n${pid}\\s+-\\s*\\n\\d+\\s+&ProcessDetails\\{ExecID:sh1,`), ps);
  await ctr('ctrns', 'tasks', 'pause', 'web');
  assert.match(await ctr('ctrns', 'tasks', 'ls'), /web\s+\d+\s+PAUSED/);
  await assert.rejects(ctr('ctrns', 'tasks', 'pause', 'web'), /cannot pause a paused container/);
  await ctr('ctrns', 'tasks', 'resume', 'web');
  const metrics = await ctr('ctrns', 'tasks', 'metrics', 'web');
  assert.match(metrics, /^ID\s+TIMESTAMP\s*\nweb\s+\S+/);
  assert.match(metrics, /memory\.usage_in_bytes\s+4096/);
  assert.match(metrics, /pids\.current\s+3/);
  const json = JSON.parse(await ctr('ctrns', 'tasks', 'metrics', '--format', 'json', 'web')) as { pids: { current: number } };
  assert.equal(json.pids.current, 3);
  await ctr('ctrns', 'tasks', 'kill', '-s', 'SIGKILL', 'web');
  assert.match(await ctr('ctrns', 'tasks', 'ls'), /web\s+\d+\s+STOPPED/);
  await ctr('ctrns', 'tasks', 'delete', 'web');
  assert.equal(await ctr('ctrns', 'tasks', 'ls', '-q'), '');
  assert.equal(runtime.tasks.size, 0);

  for (let i = 0; i < 50 && !printed.includes('/tasks/delete'); i++) await new Promise((resolve) => setTimeout(resolve, 50));
  const lines = printed.split('\n').filter((l) => l.includes(' ctrns /tasks/'));
  assert.deepEqual(
    lines.map((l) => / ctrns (\S+) /.exec(l)![1]),
    ['/tasks/create', '/tasks/start', '/tasks/exec-added', '/tasks/exec-started', '/tasks/paused', '/tasks/resumed', '/tasks/exit', '/tasks/exit', '/tasks/delete'],
    printed,
  );
  const exit = lines.find((l) => l.includes('/tasks/exit') && l.includes('"id":"web"'))!;
  assert.match(exit, new RegExp(`"container_id":"web","id":"web","pid":${pid},"exit_status":137,"exited_at":"20`));
  assert.match(lines.at(-1)!, new RegExp(`/tasks/delete \\{"container_id":"web","pid":${pid},"exit_status":137,"exited_at":`));
});
