// The acceptance test of this layer: Debian's real `ctr` (containerd 1.6) against bin/ledgerd.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { startTestDaemon } from '../helpers/daemon.js';
import { ctrAt, runHarness, skipWithoutCtr, skipWithoutHarness } from '../helpers/ctr.js';

const ctr = (address: string, ...args: string[]) => ctrAt(address)(...args);

test('ctr version, plugins ls and the namespace commands work unchanged', { skip: skipWithoutCtr }, async (t) => {
  const daemon = await startTestDaemon(t);
  const a = daemon.address;
  assert.match(ctr(a, 'version'), /Server:\n\s+Version:\s+1\.6\.\d+\+ledgerd[\s\S]*UUID: [0-9a-f-]{36}/);
  const plugins = ctr(a, 'plugins', 'ls');
  assert.match(plugins, /io\.containerd\.grpc\.v1\s+namespaces\s+-\s+ok/);
  // no tracing configured: the otlp processor skips, and tracing loads with nothing to send to
  assert.match(plugins, /^io\.containerd\.tracing\.processor\.v1\s+otlp\s+-\s+skip\s*$/m);
  assert.match(plugins, /^io\.containerd\.internal\.v1\s+tracing\s+-\s+ok\s*$/m);
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

test('ctr events prints /namespaces/create and /namespaces/delete as they happen', { skip: skipWithoutCtr }, async (t) => {
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

test('the namespace and event steps of shared/harness/ctr-conformance.sh pass', { skip: skipWithoutHarness }, async (t) => {
  const daemon = await startTestDaemon(t);
  const { out, code } = await runHarness(daemon.address, '^(version|events\\.subscribe|namespaces\\.(create|ls|label|rm))$');
  assert.match(out, /^6 passed, 0 failed$/m, out);
  assert.equal(code, 0);
});
