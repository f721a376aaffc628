// A process on a terminal that writes a lot and exits: the client gets every byte before it
// learns of the exit (issue 13, reproduction 4). The real `ctr` (given a terminal by script(1))
// against bin/ledgerd: `ctr task exec -t` deletes the process once Wait has answered and reads
// its FIFO to the end; `ctr run -t` closes its FIFO as soon as Wait has answered, so everything
// must have been read by then. Two shims: ledgerd's own, and containerd-shim-runc-v2 for exec
// (containerd 1.6's shim answers Wait before its copy of the terminal is done, so `ctr run -t` on
// it can lose the end: 39661 bytes of `seq 1 1000000` in one run of two here).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lookPath } from '../../src/shims/shared/look-path.js';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { ctrAt, skipWithoutCtr } from '../helpers/ctr.js';
import { buildImage, busyboxEntries, skipWithoutRegistry, startTestRegistry } from '../helpers/registry.js';
import { tempDir } from '../helpers/tmp.js';
import type { Entry } from '../diff/layers.js';

const onPath = (command: string) => lookPath(command) !== undefined;

const skip: string | false =
  skipWithoutCtr ||
  skipWithoutRegistry ||
  (!onPath('runc') && 'runc is not installed') ||
  (!onPath('script') && 'no script(1) to give ctr a terminal') ||
  (process.getuid?.() !== 0 && 'needs root (mounts, runc)');

const LINES = 100_000; // ~690 KB: the end of it was lost in 5 runs of 6 before the fix
const EXPECTED = Array.from({ length: LINES }, (_, i) => `${i + 1}\n`).join('');

/** `ctr ARGS` on a terminal (script(1)); its output with the terminal's \r taken out. */
async function onTerminal(daemon: TestDaemon, namespace: string, args: string[]): Promise<{ code: number | null; text: string }> {
  const command = ['ctr', '--address', daemon.address, '-n', namespace, ...args].map((a) => `'${a}'`).join(' ');
  // stdin stays open: at its end script(1) types an end-of-file (^@ here), which the terminal echoes
  const child = spawn('script', ['-qec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const chunks: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  const code = await new Promise<number | null>((resolve, reject) => {
    const timer = setTimeout(() => (child.kill('SIGKILL'), reject(new Error(`ctr ${args.join(' ')}: no exit within 120 s`))), 120_000);
    child.once('exit', () => child.stdin.destroy());
    child.once('close', (c) => (clearTimeout(timer), resolve(c)));
  });
  return { code, text: Buffer.concat(chunks).toString('latin1').replace(/\r/g, '') };
}

function assertWhole(text: string, what: string): void {
  if (text === EXPECTED) return;
  const lines = text.split('\n');
  assert.fail(`${what}: ${text.length} of ${EXPECTED.length} bytes, ${lines.length - 1} lines, starting ${JSON.stringify(text.slice(0, 20))}, ending ${JSON.stringify(text.slice(-40))}`);
}

async function daemonWithGoShim(t: TestContext): Promise<TestDaemon> {
  const config = join(tempDir(t), 'config.toml');
  writeFileSync(config, 'version = 2\n[plugins."io.containerd.runtime.v2.task"]\nshim_binaries = { "io.containerd.gorunc.v2" = "containerd-shim-runc-v2" }\n');
  return startTestDaemon(t, { args: ['-c', config] });
}

test('a terminal process that writes ~700 KB and exits: ctr exec -t and run -t get every byte', { skip }, async (t) => {
  const [daemon, registry, built] = await Promise.all([
    daemonWithGoShim(t),
    startTestRegistry(t),
    buildImage([[...busyboxEntries(), ...['seq', 'sleep'].map((a): Entry => ({ name: `bin/${a}`, type: 'symlink', linkname: 'busybox' }))]]),
  ]);
  await registry.pushImage('busybox', 'latest', built);
  const image = `${registry.host}/busybox:latest`;
  const namespace = `terminal-output-${randomBytes(3).toString('hex')}`;
  const ctr = ctrAt(daemon.address, namespace);
  ctr('images', 'pull', '--plain-http', image);

  const shims = [
    { runtime: 'io.containerd.runc.v2', shim: 'containerd-shim-ledger-v1', run: true },
    { runtime: 'io.containerd.gorunc.v2', shim: 'containerd-shim-runc-v2', run: false },
  ];
  for (const { runtime, shim, run } of shims.filter(({ shim }) => shim === 'containerd-shim-ledger-v1' || onPath(shim))) {
    await t.test(shim, async (t) => {
      const host = `host-${randomBytes(3).toString('hex')}`;
      ctr('run', '-d', '--runtime', runtime, image, host, 'sleep', '600');
      t.after(() => {
        for (const args of [['task', 'kill', '-s', 'KILL', host], ['task', 'rm', '-f', host], ['containers', 'rm', host]]) {
          try {
            ctr(...args);
          } catch {
            // already gone
          }
        }
      });
      for (let i = 0; i < 2; i++) {
        const exec = await onTerminal(daemon, namespace, ['task', 'exec', '-t', '--exec-id', `seq${i}`, host, 'seq', '1', String(LINES)]);
        assert.equal(exec.code, 0);
        assertWhole(exec.text, `exec -t #${i}`);
      }
      if (!run) return;
      for (let i = 0; i < 2; i++) {
        const ran = await onTerminal(daemon, namespace, ['run', '-t', '--rm', '--runtime', runtime, image, `seq-${randomBytes(3).toString('hex')}`, 'seq', '1', String(LINES)]);
        assert.equal(ran.code, 0);
        assertWhole(ran.text, `run -t #${i}`);
      }
    });
  }
});
