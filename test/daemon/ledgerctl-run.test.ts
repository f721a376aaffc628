// ledgerctl's container commands end to end: the real bin/ledgerctl (a subprocess) against
// bin/ledgerd, runc and a busybox image pushed to a registry started here and pulled with
// `ledgerctl pull`. One daemon and image for the file; each subtest removes its containers (and
// their tasks) when it ends, passed or not. The behaviour that depends on the shim (stdio, exec,
// signals) runs on both: containerd's containerd-shim-runc-v2 and ledgerd's own shim.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LEDGERCTL, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { buildImage, busyboxEntries, skipWithoutRegistry, startTestRegistry } from '../helpers/registry.js';
import { tempDir } from '../helpers/tmp.js';
import type { Entry } from '../diff/layers.js';

const TASKS = 'containerd.services.tasks.v1.Tasks';
const CONTAINERS = 'containerd.services.containers.v1.Containers';
const SNAPSHOTS = 'containerd.services.snapshots.v1.Snapshots';
const LOG_ROOT = '/var/log/ledgerd';

const onPath = (command: string) => {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

const skip: string | false =
  skipWithoutRegistry ||
  (!onPath('runc') && 'runc is not installed') ||
  (process.getuid?.() !== 0 && 'needs root (mounts, runc)');

/** Runtime name -> its shim, as the daemon below is configured (the first is ledgerctl's default). */
const RUNTIMES = [
  { runtime: 'io.containerd.runc.v2', shim: 'containerd-shim-runc-v2' },
  { runtime: 'io.containerd.ledger.v1', shim: 'containerd-shim-ledger-v1' },
];

/** busybox with the applets these tests use, and a /tmp. */
const IMAGE_ENTRIES: Entry[] = [
  ...busyboxEntries(),
  ...['sleep', 'tty', 'touch'].map((a): Entry => ({ name: `bin/${a}`, type: 'symlink', linkname: 'busybox' })),
  { name: 'tmp/', type: 'directory' },
];

interface Env {
  readonly daemon: TestDaemon;
  readonly namespace: string;
  readonly image: string;
}

interface Result {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const ledgerctlArgs = (env: Env, args: readonly string[]) => [LEDGERCTL, '-a', env.daemon.address, '-n', env.namespace, ...args];

/** bin/ledgerctl ARGS with stdin `input` (then closed) or /dev/null; killed and failed after `timeout`. */
function ledgerctl(env: Env, args: readonly string[], options: { input?: string; timeout?: number } = {}): Promise<Result> {
  return collect(spawn(process.execPath, ledgerctlArgs(env, args), { stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] }), `ledgerctl ${args.join(' ')}`, options);
}

function collect(child: ReturnType<typeof spawn>, what: string, options: { input?: string; timeout?: number }): Promise<Result> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  if (options.input !== undefined) child.stdin!.end(options.input);
  const timeout = options.timeout ?? 30_000;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL'); // not SIGTERM: ledgerctl forwards that to the container
      reject(new Error(`${what}: no exit within ${timeout} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeout);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** `ledgerctl logs -f ID` in the background, killed when `t` ends. */
function followLogs(t: TestContext, env: Env, id: string): () => string {
  const child = spawn(process.execPath, ledgerctlArgs(env, ['logs', '-f', id]), { stdio: ['ignore', 'pipe', 'ignore'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  t.after(() => void child.kill('SIGKILL'));
  return () => output;
}

/** A fresh container id, force-removed (task killed, container and snapshot deleted) when `t` ends. */
function containerId(t: TestContext, env: Env, name: string): string {
  const id = `${name}-${randomBytes(3).toString('hex')}`;
  t.after(() => forceRemove(env, id));
  return id;
}

async function forceRemove(env: Env, id: string): Promise<void> {
  const c = env.daemon.connect(env.namespace);
  const ignore = () => undefined;
  await c.unary(TASKS, 'Kill', { container_id: id, exec_id: '', signal: 9, all: true }).catch(ignore);
  await c.unary(TASKS, 'Wait', { container_id: id, exec_id: '' }).catch(ignore);
  await c.unary(TASKS, 'Delete', { container_id: id }).catch(ignore);
  await c.unary(CONTAINERS, 'Delete', { id }).catch(ignore);
  await c.unary(SNAPSHOTS, 'Remove', { snapshotter: 'overlayfs', key: id }).catch(ignore);
}

/** `ledgerctl ps` as { id: status }. */
async function tasks(env: Env): Promise<Record<string, string>> {
  const { code, stdout, stderr } = await ledgerctl(env, ['ps']);
  assert.equal(code, 0, stderr);
  const [header, ...rows] = stdout.trim().split('\n');
  assert.match(header!, /^TASK\s+PID\s+STATUS$/);
  return Object.fromEntries(rows.map((row) => row.split(/\s+/)).map(([id, , status]) => [id!, status!]));
}

async function eventually(what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  for (const start = Date.now(); Date.now() - start < ms; await new Promise((resolve) => setTimeout(resolve, 100))) {
    if (await check()) return;
  }
  assert.fail(`${what}: not within ${ms} ms`);
}

/** A daemon whose runtimes are the shims RUNTIMES names, whatever its defaults. */
async function daemonWithShims(t: TestContext): Promise<TestDaemon> {
  const config = join(tempDir(t), 'config.toml');
  const binaries = RUNTIMES.map(({ runtime, shim }) => `"${runtime}" = "${shim}"`).join(', ');
  writeFileSync(config, `version = 2\n[plugins."io.containerd.runtime.v2.task"]\nshim_binaries = { ${binaries} }\n`);
  return startTestDaemon(t, { args: ['-c', config] });
}

test('ledgerctl run, exec, ps, kill, rm and logs drive real containers', { skip }, async (t) => {
  const [daemon, registry, built] = await Promise.all([daemonWithShims(t), startTestRegistry(t), buildImage([IMAGE_ENTRIES])]);
  await registry.pushImage('busybox', 'latest', built);
  const env: Env = { daemon, namespace: `ledgerctl-run-${randomBytes(3).toString('hex')}`, image: `${registry.host}/busybox:latest` };
  t.after(() => rmSync(join(LOG_ROOT, env.namespace), { recursive: true, force: true }));
  const pulled = await ledgerctl(env, ['pull', '--plain-http', env.image], { timeout: 60_000 });
  assert.equal(pulled.code, 0, pulled.stderr);

  for (const { runtime, shim } of RUNTIMES) {
    const on = `(${shim})`;
    const skipShim = !onPath(shim) && `${shim} is not installed`;
    const rt = ['--runtime', runtime];

    await t.test(`run --rm: the output, the exit status, --env and --cwd ${on}`, { skip: skipShim }, async (t) => {
      const hello = await ledgerctl(env, ['run', '--rm', ...rt, env.image, containerId(t, env, 'hello'), 'echo', 'hello']);
      assert.deepEqual(hello, { code: 0, stdout: 'hello\n', stderr: '' });

      const seven = await ledgerctl(env, ['run', '--rm', ...rt, env.image, containerId(t, env, 'seven'), 'sh', '-c', 'echo out; echo err >&2; exit 7']);
      assert.deepEqual(seven, { code: 7, stdout: 'out\n', stderr: 'err\n' });

      const id = containerId(t, env, 'envcwd');
      const flags = ['--env', 'GREETING=hi there', '--env', 'PATH=/bin:/sbin', '--cwd', '/etc'];
      const withFlags = await ledgerctl(env, ['run', '--rm', ...rt, ...flags, env.image, id, 'sh', '-c', 'echo "$GREETING|$PATH|$(pwd)"']);
      assert.deepEqual(withFlags, { code: 0, stdout: 'hi there|/bin:/sbin|/etc\n', stderr: '' }, '--env adds and overrides, --cwd is the working directory');
      assert.equal((await tasks(env))[id], undefined, '--rm removed the task');

      const missing = await ledgerctl(env, ['run', '--rm', ...rt, env.image, id, 'no-such-command']);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /^ledgerctl: .*"no-such-command": executable file not found/);
      const again = await ledgerctl(env, ['run', '--rm', ...rt, env.image, id, 'true']);
      assert.deepEqual(again, { code: 0, stdout: '', stderr: '' }, 'the failed run removed its container and snapshot');
    });

    await t.test(`piped stdin reaches the container (run and exec), which reads its end and exits ${on}`, { skip: skipShim }, async (t) => {
      const cat = await ledgerctl(env, ['run', '--rm', ...rt, env.image, containerId(t, env, 'cat'), 'cat'], { input: 'x\n', timeout: 20_000 });
      assert.deepEqual(cat, { code: 0, stdout: 'x\n', stderr: '' });

      const lines = Array.from({ length: 20_000 }, (_, i) => `line ${i}\n`).join(''); // > a FIFO's 64 KiB
      const count = 'n=0; while read l; do n=$((n+1)); done; echo $n';
      const counted = await ledgerctl(env, ['run', '--rm', ...rt, env.image, containerId(t, env, 'count'), 'sh', '-c', count], { input: lines, timeout: 20_000 });
      assert.deepEqual(counted, { code: 0, stdout: '20000\n', stderr: '' });

      const nothing = await ledgerctl(env, ['run', '--rm', ...rt, env.image, containerId(t, env, 'devnull'), 'cat'], { timeout: 20_000 });
      assert.deepEqual(nothing, { code: 0, stdout: '', stderr: '' }, 'stdin /dev/null: end-of-file at once');

      const id = containerId(t, env, 'execin');
      assert.equal((await ledgerctl(env, ['run', '-d', ...rt, env.image, id, 'sleep', '600'])).code, 0);
      const execCat = await ledgerctl(env, ['exec', id, 'cat'], { input: 'to-exec\n', timeout: 20_000 });
      assert.deepEqual(execCat, { code: 0, stdout: 'to-exec\n', stderr: '' });
    });

    await t.test(`run -d, then ps, exec, logs, logs -f, kill (SIGTERM) and rm ${on}`, { skip: skipShim }, async (t) => {
      const id = containerId(t, env, 'detached');
      const script = 'echo started; trap "echo got-term; exit 3" TERM; while [ ! -e /tmp/go ]; do sleep 0.1; done; echo after-go; sleep 600 & wait';
      const started = await ledgerctl(env, ['run', '-d', ...rt, env.image, id, 'sh', '-c', script]);
      assert.deepEqual(started, { code: 0, stdout: '', stderr: '' });
      assert.equal((await tasks(env))[id], 'RUNNING');

      const inExec = await ledgerctl(env, ['exec', '--env', 'WHERE=in-exec', id, 'sh', '-c', 'echo "$WHERE"; echo to-stderr >&2; exit 4']);
      assert.deepEqual(inExec, { code: 4, stdout: 'in-exec\n', stderr: 'to-stderr\n' });

      const logPath = join(LOG_ROOT, env.namespace, `${id}.log`);
      await eventually('"started" in the log file', () => existsSync(logPath) && readFileSync(logPath, 'utf8') === 'started\n');
      assert.deepEqual(await ledgerctl(env, ['logs', id]), { code: 0, stdout: 'started\n', stderr: '' });

      const followed = followLogs(t, env, id);
      await eventually('logs -f prints what is there', () => followed() === 'started\n');
      assert.equal((await ledgerctl(env, ['exec', id, 'touch', '/tmp/go'])).code, 0);
      await eventually('logs -f prints what the container writes later', () => followed() === 'started\nafter-go\n');

      assert.deepEqual(await ledgerctl(env, ['kill', id]), { code: 0, stdout: '', stderr: '' });
      await eventually('the task stops after kill', async () => (await tasks(env))[id] === 'STOPPED');
      assert.equal(readFileSync(logPath, 'utf8'), 'started\nafter-go\ngot-term\n', 'the signal was SIGTERM (the container trapped it)');

      assert.deepEqual(await ledgerctl(env, ['rm', id]), { code: 0, stdout: '', stderr: '' });
      assert.equal((await tasks(env))[id], undefined);
      const gone = await ledgerctl(env, ['logs', id]);
      assert.equal(gone.code, 1);
      assert.match(gone.stderr, new RegExp(`^ledgerctl: container "${id}" in namespace "${env.namespace}": not found\n$`));
    });
  }

  await t.test('kill -s KILL --all stops a task that ignores SIGTERM; a missing container or bad signal fails clearly', async (t) => {
    const id = containerId(t, env, 'killall');
    assert.equal((await ledgerctl(env, ['run', '-d', env.image, id, 'sleep', '600'])).code, 0);
    assert.equal((await tasks(env))[id], 'RUNNING');
    assert.deepEqual(await ledgerctl(env, ['kill', '-s', 'KILL', '--all', id]), { code: 0, stdout: '', stderr: '' });
    await eventually('the task stops after SIGKILL', async () => (await tasks(env))[id] === 'STOPPED');

    for (const args of [['kill', 'nope'], ['rm', 'nope'], ['logs', 'nope'], ['exec', 'nope', 'true']]) {
      const missing = await ledgerctl(env, args);
      assert.equal(missing.code, 1, `${args.join(' ')}: ${missing.stderr}`);
      assert.match(missing.stderr, /^ledgerctl: .*\bnope\b.*not found\n$/, args.join(' '));
    }
    const badSignal = await ledgerctl(env, ['kill', '-s', 'SIGNOPE', id]);
    assert.deepEqual([badSignal.code, badSignal.stderr], [1, 'ledgerctl: unknown signal SIGNOPE\n']);
  });

  await t.test('run -t: a pty in the container, with or without a terminal on our stdin', async (t) => {
    // stdin /dev/null: no raw mode to set, the pty's output (\r\n) comes through, the run ends.
    // The output comes after our stdin has ended: containerd's shim takes a CloseIO of a terminal
    // for a hang-up and drops what comes later, so ledgerctl must not send one (ctr -t does not).
    for (const { runtime, shim } of RUNTIMES.filter(({ shim }) => onPath(shim))) {
      const noTty = await ledgerctl(env, ['run', '--rm', '-t', '--runtime', runtime, env.image, containerId(t, env, 'tty'), 'sh', '-c', 'sleep 0.5; tty; exit 5'], { timeout: 20_000 });
      assert.equal(noTty.code, 5, `${shim}: ${noTty.stderr}`);
      assert.match(noTty.stdout, /^\/dev\/pts\/\d+\r\n$/, shim);
    }

    if (!onPath('script')) return t.skip('no script(1) for a terminal');
    // script(1) gives ledgerctl a terminal; what we type goes to the container's shell
    const command = [process.execPath, ...ledgerctlArgs(env, ['run', '--rm', '-t', env.image, containerId(t, env, 'typed'), 'sh'])].map((a) => `'${a}'`).join(' ');
    const typed = await collect(spawn('script', ['-qec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] }), 'script ledgerctl run -t', {
      input: 'test -t 0 && echo "tty $((6*7))"\nexit 3\n',
      timeout: 20_000,
    });
    assert.equal(typed.code, 3, typed.stdout + typed.stderr);
    assert.match(typed.stdout, /\r\ntty 42\r/, 'the shell ran what was typed, on a terminal');
  });

  assert.deepEqual(await tasks(env), {}, 'no task is left behind');
});
