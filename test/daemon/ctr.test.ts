// The acceptance test of this layer: Debian's real `ctr` (containerd 1.6) against bin/ledgerd.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startTestDaemon } from '../helpers/daemon.js';

const hasCtr = (() => {
  try {
    execFileSync('ctr', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const skip = hasCtr ? false : 'ctr is not installed (scripts/install.sh installs it)';

const ctr = (address: string, ...args: string[]) =>
  execFileSync('ctr', ['--address', address, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

test('ctr version, plugins ls and the namespace commands work unchanged', { skip }, async (t) => {
  const daemon = await startTestDaemon(t);
  const a = daemon.address;
  assert.match(ctr(a, 'version'), /Server:\n\s+Version:\s+1\.6\.\d+\+ledgerd[\s\S]*UUID: [0-9a-f-]{36}/);
  assert.match(ctr(a, 'plugins', 'ls'), /io\.containerd\.grpc\.v1\s+namespaces\s+-\s+ok/);
  assert.match(ctr(a, 'plugins', 'ls', '-d'), /Type:\s+io\.containerd/);

  ctr(a, 'namespaces', 'create', 'ctrns', 'team=blue');
  assert.match(ctr(a, 'namespaces', 'ls'), /^ctrns\s+team=blue\s*$/m);
  ctr(a, 'namespaces', 'label', 'ctrns', 'tier=gold');
  assert.match(ctr(a, 'namespaces', 'ls'), /^ctrns\s+team=blue,tier=gold\s*$/m);
  ctr(a, 'namespaces', 'label', 'ctrns', 'team=');
  assert.match(ctr(a, 'namespaces', 'ls'), /^ctrns\s+tier=gold\s*$/m);
  assert.throws(() => ctr(a, 'namespaces', 'create', 'ctrns'), /already exists/);
  assert.throws(() => ctr(a, 'namespaces', 'create', 'no such'), /invalid argument/);
  ctr(a, 'namespaces', 'rm', 'ctrns');
  assert.doesNotMatch(ctr(a, 'namespaces', 'ls', '-q'), /ctrns/);
});

test('ctr events prints /namespaces/create and /namespaces/delete as they happen', { skip }, async (t) => {
  const daemon = await startTestDaemon(t);
  const events = spawn('ctr', ['--address', daemon.address, 'events'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => events.kill());
  let out = '';
  events.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  await new Promise((resolve) => setTimeout(resolve, 500));
  ctr(daemon.address, 'namespaces', 'create', 'watched');
  ctr(daemon.address, 'namespaces', 'rm', 'watched');
  for (let i = 0; i < 50 && !/\/namespaces\/delete/.test(out); i++) await new Promise((resolve) => setTimeout(resolve, 100));
  assert.match(out, /default \/namespaces\/create \{"name":"watched"\}/);
  assert.match(out, /watched \/namespaces\/delete \{"name":"watched"\}/);
});

const harness = fileURLToPath(new URL('../../../../shared/harness/ctr-conformance.sh', import.meta.url));
test('the namespace and event steps of shared/harness/ctr-conformance.sh pass', { skip: skip || (!existsSync(harness) && 'no ../shared/harness') }, async (t) => {
  const daemon = await startTestDaemon(t);
  const run = spawn('bash', [harness, daemon.address], {
    env: { ...process.env, ONLY: '^(version|events\\.subscribe|namespaces\\.(create|ls|label|rm))$' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  run.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  run.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise((resolve) => run.once('exit', resolve));
  assert.match(out, /^6 passed, 0 failed$/m, out);
  assert.equal(code, 0);
});
