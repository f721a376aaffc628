// Tasks end to end: bin/ledgerd with its shim v2 runtime (io.containerd.runtime.v2.task), the
// real ctr, runc, and a busybox root filesystem in a snapshot prepared here from Debian's
// busybox-static. Skipped while the daemon has no working runtime plugin.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startRegistry } from '../helpers/harness-services.js';
import { LEDGERCTL, startTestDaemon, type DaemonOptions, type TestDaemon } from '../helpers/daemon.js';
import { ctrAt, hasCtr, runHarness, skipWithoutHarness } from '../helpers/ctr.js';
import { defaultSpec, SPEC_TYPE_URL } from '../../src/client/run/oci-spec.js';
import { encode } from '../../src/shims/wire/protocol/protowire.js';
import { LegacyRuncOptions } from '../../src/shims/wire/protocol/task.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);
const BUSYBOX = '/bin/busybox';
const TOOLS = ['sh', 'echo', 'cat', 'sleep', 'true', 'false', 'id', 'pwd', 'ls', 'wc'];
// a namespace of this run's own: runc keeps its state per namespace host-wide, and a killed run's leftovers must not meet the next
const NS = `e2e-${process.pid}`;
const SNAPSHOTS = 'containerd.services.snapshots.v1.Snapshots';
const CONTAINERS = 'containerd.services.containers.v1.Containers';

const skip: string | false = !hasCtr ? 'ctr is not installed' : !existsSync(BUSYBOX) ? 'busybox-static is not installed' : !existsSync('/usr/sbin/runc') && !existsSync('/usr/bin/runc') ? 'runc is not installed' : false;

/** A daemon whose runtime plugin loaded, or undefined (the test then skips). */
async function daemonWithRuntime(t: TestContext, options: DaemonOptions = {}): Promise<TestDaemon | undefined> {
  const daemon = await startTestDaemon(t, options);
  const plugins = ctrAt(daemon.address)('plugins', 'ls');
  if (!/^io\.containerd\.runtime\.v2\s+task\s+.*\sok\s*$/m.test(plugins) || !/^io\.containerd\.grpc\.v1\s+tasks\s+.*\sok\s*$/m.test(plugins)) {
    t.skip('the daemon has no working io.containerd.runtime.v2.task plugin yet');
    return undefined;
  }
  return daemon;
}

/** A committed native snapshot "busybox" holding busybox and its applets, prepared through the Snapshots service. */
async function busyboxSnapshot(daemon: TestDaemon): Promise<void> {
  const c = daemon.connect(NS);
  const { mounts } = await c.unary<{ mounts: { type: string; source: string }[] }>(SNAPSHOTS, 'Prepare', { snapshotter: 'native', key: 'busybox-build', parent: '' });
  const root = mounts[0]!.source;
  for (const dir of ['bin', 'proc', 'dev', 'sys', 'tmp', 'etc', 'run']) mkdirSync(join(root, dir), { recursive: true });
  copyFileSync(BUSYBOX, join(root, 'bin', 'busybox'));
  for (const tool of TOOLS) symlinkSync('busybox', join(root, 'bin', tool));
  await c.unary(SNAPSHOTS, 'Commit', { snapshotter: 'native', name: 'busybox', key: 'busybox-build' });
}

/** A container on a fresh snapshot of "busybox" running `args`, created as the Go client does. */
async function busyboxContainer(daemon: TestDaemon, id: string, args: string[], runtime: { name: string; options?: { type_url: string; value: Buffer } } = { name: 'io.containerd.runc.v2' }): Promise<string> {
  const c = daemon.connect(NS);
  const { mounts } = await c.unary<{ mounts: { source: string }[] }>(SNAPSHOTS, 'Prepare', { snapshotter: 'native', key: id, parent: 'busybox' });
  const spec = defaultSpec(NS, id);
  spec.process.args = args;
  await c.unary(CONTAINERS, 'Create', {
    container: {
      id,
      runtime,
      spec: { type_url: SPEC_TYPE_URL, value: Buffer.from(JSON.stringify(spec)) },
      snapshotter: 'native',
      snapshot_key: id,
    },
  });
  return mounts[0]!.source;
}

const ctrRun = async (daemon: TestDaemon, ...args: string[]) => {
  try {
    const { stdout } = await run('ctr', ['--address', daemon.address, '-n', NS, ...args], { timeout: 30_000 });
    return { code: 0, stdout };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
};

test('ctr tasks start (attached) and ctr run --rm on a busybox snapshot: output and exit code 7', { skip }, async (t) => {
  const daemon = await daemonWithRuntime(t);
  if (!daemon) return;
  await busyboxSnapshot(daemon);
  await busyboxContainer(daemon, 'attached', ['sh', '-c', 'echo hello-from-task; exit 7']);
  const started = await ctrRun(daemon, 'tasks', 'start', 'attached');
  assert.deepEqual([started.code, started.stdout], [7, 'hello-from-task\n']);
  assert.equal((await ctrRun(daemon, 'tasks', 'ls', '-q')).stdout, '', 'an attached start deletes its task');

  const rootfs = await busyboxContainer(daemon, 'unused', ['true']);
  const ran = await ctrRun(daemon, 'run', '--rm', '--rootfs', rootfs, 'run1', '/bin/sh', '-c', 'echo ran; exit 7');
  assert.deepEqual([ran.code, ran.stdout], [7, 'ran\n']);
  assert.doesNotMatch((await ctrRun(daemon, 'containers', 'ls', '-q')).stdout, /run1/);
});

test('ctr on a detached task: ls, ps, exec (output, exit code), pause, resume, metrics, kill, delete; ctr events', { skip }, async (t) => {
  const daemon = await daemonWithRuntime(t);
  if (!daemon) return;
  const events = spawn('ctr', ['--address', daemon.address, 'events'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let printed = '';
  events.stdout.on('data', (chunk: Buffer) => (printed += chunk.toString()));
  t.after(() => events.kill());
  await busyboxSnapshot(daemon);
  await busyboxContainer(daemon, 'det', ['sleep', '600']);
  assert.equal((await ctrRun(daemon, 'tasks', 'start', '-d', 'det')).code, 0);

  const ls = (await ctrRun(daemon, 'tasks', 'ls')).stdout;
  const pid = Number(/^det\s+(\d+)\s+RUNNING/m.exec(ls)?.[1]);
  assert.ok(pid > 0 && existsSync(`/proc/${pid}`), ls);
  assert.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /^sleep\x00600/);
  assert.match((await ctrRun(daemon, 'tasks', 'ps', 'det')).stdout, new RegExp(`^PID\\s+INFO\\s*\\n${pid}\\s+-`));

  assert.deepEqual(await ctrRun(daemon, 'tasks', 'exec', '--exec-id', 'e1', 'det', 'echo', 'exec-ok'), { code: 0, stdout: 'exec-ok\n' });
  assert.equal((await ctrRun(daemon, 'tasks', 'exec', '--exec-id', 'e2', 'det', 'sh', '-c', 'exit 3')).code, 3);
  const invalidId = await ctrRun(daemon, 'tasks', 'exec', '--exec-id', 'bad id', 'det', 'true');
  assert.notEqual(invalidId.code, 0);

  await ctrRun(daemon, 'tasks', 'pause', 'det');
  assert.match((await ctrRun(daemon, 'tasks', 'ls')).stdout, /^det\s+\d+\s+PAUSED/m);
  await ctrRun(daemon, 'tasks', 'resume', 'det');
  assert.match((await ctrRun(daemon, 'tasks', 'ls')).stdout, /^det\s+\d+\s+RUNNING/m);
  const metrics = (await ctrRun(daemon, 'tasks', 'metrics', 'det')).stdout;
  assert.match(metrics, /det/);
  assert.match(metrics, /pids\.current\s+\d+/);

  await ctrRun(daemon, 'tasks', 'kill', '-s', 'SIGKILL', 'det');
  for (let i = 0; i < 50 && !/STOPPED/.test((await ctrRun(daemon, 'tasks', 'ls')).stdout); i++) await new Promise((r) => setTimeout(r, 100));
  assert.match((await ctrRun(daemon, 'tasks', 'ls')).stdout, /^det\s+\d+\s+STOPPED/m);
  assert.equal((await ctrRun(daemon, 'tasks', 'delete', 'det')).code, 0);
  assert.equal((await ctrRun(daemon, 'tasks', 'ls', '-q')).stdout, '');

  for (let i = 0; i < 50 && !printed.includes('/tasks/delete'); i++) await new Promise((r) => setTimeout(r, 100));
  const topics = printed.split('\n').filter((l) => l.includes(` ${NS} /tasks/`)).map((l) => l.split(` ${NS} `)[1]!.split(' ')[0]!);
  for (const topic of ['/tasks/create', '/tasks/start', '/tasks/exec-added', '/tasks/exec-started', '/tasks/paused', '/tasks/resumed', '/tasks/exit', '/tasks/delete']) {
    assert.ok(topics.includes(topic), `${topic} in ${topics.join(' ')}`);
  }
  assert.match(printed, /\/tasks\/exit \{"container_id":"det","id":"e2","pid":\d+,"exit_status":3,/);
  assert.match(printed, /\/tasks\/exit \{"container_id":"det","id":"det","pid":\d+,"exit_status":137,/);

  // who did it: what ctr asked for names ctr (uid, pid, user agent), also when the shim's report
  // of it was recorded first; only the exits, which nobody asked for, are the shim's
  const { stdout } = await run(process.execPath, [LEDGERCTL, '-a', daemon.address, 'log', 'show', '--filter', `namespace==${NS}`], { maxBuffer: 1 << 26 });
  const records = stdout.trim().split('\n').map((line) => JSON.parse(line) as { type: string; meta: Record<string, unknown> }).filter((r) => r.type.startsWith('Task'));
  const asked = records.filter((r) => ['TaskCreated', 'TaskStarted', 'TaskExecAdded', 'TaskPaused', 'TaskResumed', 'TaskDeleted'].includes(r.type));
  assert.deepEqual([...new Set(asked.map((r) => r.type))].sort(), ['TaskCreated', 'TaskDeleted', 'TaskExecAdded', 'TaskPaused', 'TaskResumed', 'TaskStarted']);
  for (const record of asked) {
    assert.equal(record.meta.actor, undefined, `${record.type}: ${JSON.stringify(record.meta)}`);
    assert.equal(record.meta.peerUid, process.getuid!(), `${record.type}: ${JSON.stringify(record.meta)}`);
    assert.match(String(record.meta.userAgent), /grpc-go/, record.type);
  }
  for (const record of records.filter((r) => r.type === 'TaskExited')) assert.equal(record.meta.actor, 'shim');
});

test('a running task survives a daemon restart; a killed shim is recorded as exited 137 and deleted', { skip }, async (t) => {
  let daemon = await daemonWithRuntime(t);
  if (!daemon) return;
  await busyboxSnapshot(daemon);
  await busyboxContainer(daemon, 'survivor', ['sleep', '600']);
  assert.equal((await ctrRun(daemon, 'tasks', 'start', '-d', 'survivor')).code, 0);
  const pid = Number(/^survivor\s+(\d+)/m.exec((await ctrRun(daemon, 'tasks', 'ls')).stdout)?.[1]);
  await daemon.stop();
  daemon = await daemon.restart();
  assert.match((await ctrRun(daemon, 'tasks', 'ls')).stdout, new RegExp(`^survivor\\s+${pid}\\s+RUNNING`, 'm'));

  const events = spawn('ctr', ['--address', daemon.address, 'events'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let printed = '';
  events.stdout.on('data', (chunk: Buffer) => (printed += chunk.toString()));
  t.after(() => events.kill());
  await new Promise((r) => setTimeout(r, 500));
  const shimPid = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
  process.kill(shimPid, 'SIGKILL');
  for (let i = 0; i < 100 && !printed.includes('/tasks/delete'); i++) await new Promise((r) => setTimeout(r, 100));
  assert.match(printed, /\/tasks\/exit \{"container_id":"survivor","id":"survivor","pid":\d+,"exit_status":137,/);
  assert.match(printed, /\/tasks\/delete \{"container_id":"survivor",/);
  assert.equal((await ctrRun(daemon, 'tasks', 'ls', '-q')).stdout, '');
  assert.ok(!existsSync(`/proc/${pid}`) || /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8')), 'the container process is gone');
});

test("the legacy runtime io.containerd.runtime.v1.linux runs on a shim v2 with its options; the daemon's own shim whatever $PATH holds under its name", { skip }, async (t) => {
  const dir = tempDir(t);
  // another checkout's shim on $PATH (install.sh's link): it must not be the one that runs
  const impostorDir = join(dir, 'other-checkout');
  mkdirSync(impostorDir);
  writeFileSync(join(impostorDir, 'containerd-shim-ledger-v1'), `#!/bin/sh\ntouch ${join(dir, 'impostor-ran')}\nexit 1\n`, { mode: 0o755 });
  // a runc that notes how it was called, named by the container's RuncOptions
  const runcPath = (await run('sh', ['-c', 'command -v runc'])).stdout.trim();
  const calls = join(dir, 'runc-calls');
  writeFileSync(join(dir, 'noting-runc'), `#!/bin/sh\necho "$@" >> ${calls}\nexec ${runcPath} "$@"\n`, { mode: 0o755 });
  const config = join(dir, 'config.toml');
  const runtimeRoot = join(dir, 'v1-runc-root');
  writeFileSync(config, `version = 2\n[plugins."io.containerd.runtime.v1.linux"]\nruntime_root = "${runtimeRoot}"\n`);
  const daemon = await daemonWithRuntime(t, { args: ['-c', config], env: { ...process.env, PATH: `${impostorDir}:${process.env.PATH}` } });
  if (!daemon) return;
  assert.match(ctrAt(daemon.address)('plugins', 'ls'), /^io\.containerd\.runtime\.v1\s+linux\s+linux\/\w+\s+ok\s*$/m);
  await busyboxSnapshot(daemon);
  const legacy = (runtime: string) => ({ name: 'io.containerd.runtime.v1.linux', options: { type_url: 'containerd.linux.runc.RuncOptions', value: encode(LegacyRuncOptions, { runtime }) } });

  await busyboxContainer(daemon, 'v1', ['sh', '-c', 'echo on-v1; exit 4'], legacy(join(dir, 'noting-runc')));
  const started = await ctrRun(daemon, 'tasks', 'start', 'v1');
  assert.deepEqual([started.code, started.stdout], [4, 'on-v1\n'], started.stderr);
  assert.match(readFileSync(calls, 'utf8'), new RegExp(`^--root ${runtimeRoot}/${NS} .* create `, 'm'), "the container's runc, with the plugin's runtime_root");
  assert.equal(existsSync(join(dir, 'impostor-ran')), false, 'the shim on $PATH never ran');

  await busyboxContainer(daemon, 'v1-missing', ['true'], legacy('/no/such/runc'));
  const missing = await ctrRun(daemon, 'tasks', 'start', 'v1-missing');
  assert.equal(missing.code, 1);
  assert.match(missing.stderr ?? '', /runtime binary "\/no\/such\/runc" not found/);
  assert.equal((await ctrRun(daemon, 'tasks', 'ls', '-q')).stdout, '', 'the failed create left no task');
  // the id is free again: the same container with a runc that exists
  await daemon.connect(NS).unary(CONTAINERS, 'Delete', { id: 'v1-missing' });
  await daemon.connect(NS).unary(SNAPSHOTS, 'Remove', { snapshotter: 'native', key: 'v1-missing' });
  await busyboxContainer(daemon, 'v1-missing', ['sh', '-c', 'echo second-try'], legacy(''));
  const again = await ctrRun(daemon, 'tasks', 'start', 'v1-missing');
  assert.deepEqual([again.code, again.stdout], [0, 'second-try\n'], again.stderr);
});

test('the run and task steps of shared/harness/ctr-conformance.sh pass', { skip: skipWithoutHarness || skip }, async (t) => {
  const daemon = await daemonWithRuntime(t);
  if (!daemon) return;
  const registry = startRegistry(t, 5125); // the steps pull the harness images
  const { out, code } = await runHarness(daemon.address, '^(run\\.|task\\.|events\\.exit-status)', { REGISTRY: registry });
  assert.match(out, /^18 passed, 0 failed$/m, out);
  assert.equal(code, 0);
});

test('SIGKILL of the daemon while tasks run: after a restart the live one is RUNNING and an exit during the downtime is recorded with its status', { skip }, async (t) => {
  let daemon = await daemonWithRuntime(t);
  if (!daemon) return;
  await busyboxSnapshot(daemon);
  await busyboxContainer(daemon, 'stays', ['sleep', '600']);
  await busyboxContainer(daemon, 'leaves', ['sh', '-c', 'sleep 2; exit 5']);
  for (const id of ['stays', 'leaves']) assert.equal((await ctrRun(daemon, 'tasks', 'start', '-d', id)).code, 0);
  await daemon.kill();
  await new Promise((resolve) => setTimeout(resolve, 3000)); // "leaves" exits while nobody listens
  daemon = await daemon.restart();

  const listed = (await ctrRun(daemon, 'tasks', 'ls')).stdout;
  assert.match(listed, /^stays\s+\d+\s+RUNNING/m);
  assert.match(listed, /^leaves\s+\d+\s+STOPPED/m);
  const exits: { payload_json: string }[] = [];
  const stream = daemon.connect(NS).stream<{ payload_json: string }>('ledgerd.services.log.v1.Log', 'Read', { from_seq: 1, filters: ['type==TaskExited'] });
  await new Promise((resolve, reject) => stream.on('data', (r) => exits.push(r)).on('end', resolve).on('error', reject));
  const leaves = exits.map((r) => JSON.parse(r.payload_json)).filter((p) => p.containerId === 'leaves');
  assert.equal(leaves.length, 1, JSON.stringify(leaves));
  assert.equal(leaves[0].exitStatus, 5);
  const waited = await ctrRun(daemon, 'tasks', 'delete', 'leaves');
  assert.equal(waited.code, 0, waited.stderr);
  assert.equal((await ctrRun(daemon, 'tasks', 'kill', '-s', 'SIGKILL', 'stays')).code, 0);
  let deleted = await ctrRun(daemon, 'tasks', 'delete', 'stays');
  for (let i = 0; i < 50 && deleted.code !== 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    deleted = await ctrRun(daemon, 'tasks', 'delete', 'stays');
  }
  assert.equal(deleted.code, 0, deleted.stderr);
});
