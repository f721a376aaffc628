// The strongest check of the shim: real containerd 1.6 (Debian's, through the harness) runs
// busybox containers with `--runtime io.containerd.ledger.v1`, i.e. through this shim, driven by
// the real `ctr`.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { skipWithoutCtr } from '../helpers/ctr.js';
import { removeNamespaceLeftovers, skipWithoutRunc } from '../helpers/shim-bundle.js';
import { SHIM_BINARY } from '../helpers/own-shim.js';

const HARNESS = fileURLToPath(new URL('../../../../shared/harness/', import.meta.url));
const skip = skipWithoutCtr || skipWithoutRunc || (!existsSync(join(HARNESS, 'containerd-ref.sh')) && 'no ../shared/harness beside the repository') || (!existsSync('/usr/bin/containerd') && 'containerd is not installed');
const NS = `ledger-shim-${process.pid}`;
const IMAGE = 'import.harness.local/busybox:latest';
const RUNTIME = 'io.containerd.ledger.v1';

describe('real containerd 1.6 runs containers through containerd-shim-ledger-v1', { skip }, () => {
  let dir: string;
  let sock: string;
  let env: NodeJS.ProcessEnv;

  const ctr = (...args: string[]) => spawnSync('ctr', ['--address', sock, '-n', NS, ...args], { encoding: 'utf8', env, timeout: 60_000 });
  const ok = (...args: string[]) => {
    const r = ctr(...args);
    assert.equal(r.status, 0, `ctr ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const ourShims = () =>
    readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
          return cmd.includes('containerd-shim-ledger-v1') && cmd.includes(sock);
        } catch {
          return false;
        }
      });

  before(() => {
    dir = mkdtempSync('/tmp/ownshim-ctd-');
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    symlinkSync(SHIM_BINARY, join(bin, 'containerd-shim-ledger-v1'));
    env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
    sock = execFileSync(join(HARNESS, 'containerd-ref.sh'), ['start', join(dir, 'ctd')], { env, encoding: 'utf8' }).trim();
    execFileSync(join(HARNESS, 'make-images.sh'), [join(dir, 'images')], { env: { ...env, LAYERED_MB: '1', VERIFY: '0' }, stdio: 'ignore' });
    ok('images', 'import', join(dir, 'images', 'busybox.oci.tar'));
  });

  after(() => {
    if (sock) execFileSync(join(HARNESS, 'containerd-ref.sh'), ['stop', join(dir, 'ctd')], { env, stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
    removeNamespaceLeftovers(NS);
  });

  test("ctr run --rm --runtime io.containerd.ledger.v1 busybox sh -c 'echo hi; exit 3' prints hi and exits 3", () => {
    const r = ctr('run', '--rm', '--runtime', RUNTIME, IMAGE, 'hi', 'sh', '-c', 'echo hi; exit 3');
    assert.equal(r.stdout, 'hi\n', r.stderr);
    assert.equal(r.status, 3, r.stderr);
    assert.equal(ok('tasks', 'ls', '-q').trim(), '');
    assert.equal(ok('containers', 'ls', '-q').trim(), '');
  });

  test('stdin through ctr run, the exit code of a signal death passed on, and the shim events containerd re-broadcasts', async () => {
    const events = spawn('ctr', ['--address', sock, '-n', NS, 'events'], { env, stdio: ['ignore', 'pipe', 'ignore'] });
    let seen = '';
    events.stdout.on('data', (chunk: Buffer) => (seen += chunk.toString()));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const r = spawnSync('ctr', ['--address', sock, '-n', NS, 'run', '--rm', '--runtime', RUNTIME, IMAGE, 'cat1', 'sh', '-c', 'read x; echo "got $x"; sh -c "kill -9 \\$\\$"; exit $?'], {
      input: 'line\n',
      encoding: 'utf8',
      env,
      timeout: 60_000,
    });
    assert.equal(r.stdout, 'got line\n', r.stderr);
    assert.equal(r.status, 137);
    await new Promise((resolve) => setTimeout(resolve, 500));
    events.kill();
    for (const topic of ['/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete']) assert.match(seen, new RegExp(`${topic}`), seen);
    assert.match(seen, /\/tasks\/exit .*"exit_status":137/);
  });

  test('a detached task: exec with its own exit code, ps, pause/resume, metrics, kill, delete; one shim per task, gone after', () => {
    ok('run', '-d', '--runtime', RUNTIME, IMAGE, 'bg', 'sleep', '1000');
    assert.equal(ourShims().length, 1, 'our shim serves the task');
    assert.match(ok('tasks', 'ls'), /bg\s+\d+\s+RUNNING/);
    const exec = ctr('tasks', 'exec', '--exec-id', 'x1', 'bg', 'sh', '-c', 'echo from-exec; exit 9');
    assert.equal(exec.stdout, 'from-exec\n', exec.stderr);
    assert.equal(exec.status, 9);
    const ps = ok('tasks', 'ps', 'bg');
    assert.match(ps, /PID\s+INFO/);
    ok('tasks', 'pause', 'bg');
    assert.match(ok('tasks', 'ls'), /bg\s+\d+\s+PAUSED/);
    ok('tasks', 'resume', 'bg');
    assert.match(ok('tasks', 'ls'), /bg\s+\d+\s+RUNNING/);
    const metrics = ok('tasks', 'metrics', 'bg');
    assert.match(metrics, /memory\.usage_in_bytes\s+\d+/);
    assert.match(metrics, /pids\.current\s+1/);
    ok('tasks', 'kill', '-s', 'SIGKILL', 'bg');
    for (let i = 0; i < 50 && !/STOPPED/.test(ok('tasks', 'ls')); i++) spawnSync('sleep', ['0.1']);
    assert.match(ok('tasks', 'ls'), /bg\s+\d+\s+STOPPED/);
    ok('tasks', 'delete', 'bg');
    ok('containers', 'delete', 'bg');
    for (let i = 0; i < 50 && ourShims().length > 0; i++) spawnSync('sleep', ['0.1']);
    assert.deepEqual(ourShims(), [], 'the shim exited after Delete + Shutdown');
  });
});
