// ledgerd under systemd: the unit file verifies, and the daemon's readiness handshake on a
// NOTIFY_SOCKET the test owns (READY=1 once it serves, STOPPING=1 when it stops).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LEDGERD } from '../helpers/daemon.js';
import { bindNotifySocket } from '../helpers/notify-socket.js';
import { tempDir } from '../helpers/tmp.js';
import { Connection } from '../../src/cli/grpc-client.js';
import { sendNotification } from '../../src/daemon/sd-notify.js';

const UNIT = fileURLToPath(new URL('../../../contrib/systemd/ledgerd.service', import.meta.url));
const hasAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;

test('contrib/systemd/ledgerd.service passes systemd-analyze verify with nothing to say', { skip: !hasAnalyze && 'systemd-analyze is not installed (apt-get install systemd)' }, (t) => {
  const unit = readFileSync(UNIT, 'utf8');
  for (const setting of ['Type=notify', 'Delegate=yes', 'KillMode=process', 'Restart=always', 'LimitNOFILE=infinity', 'OOMScoreAdjust=-999', 'ExecStart=/usr/local/bin/ledgerd']) {
    assert.match(unit, new RegExp(`^${setting}$`, 'm'));
  }
  // verify checks that ExecStart exists: point it at this checkout's bin/ledgerd, nothing else changed
  const dir = tempDir(t);
  writeFileSync(join(dir, 'ledgerd.service'), unit.replace('ExecStart=/usr/local/bin/ledgerd', `ExecStart=${LEDGERD}`));
  const verify = spawnSync('systemd-analyze', ['verify', join(dir, 'ledgerd.service')], { encoding: 'utf8' });
  assert.equal(verify.status, 0, verify.stderr);
  assert.equal(verify.stderr, '', 'warnings (an unknown value is only a warning)');
});

test('under a service manager the daemon sends READY=1 once its socket answers, STOPPING=1 on SIGTERM, and hides NOTIFY_SOCKET from its children', async (t) => {
  const dir = tempDir(t);
  const notify = bindNotifySocket(t, join(dir, 'notify.sock'));
  const address = join(dir, 'ledgerd.sock');
  const daemon = spawn(process.execPath, [LEDGERD, '--root', join(dir, 'root'), '--state', join(dir, 'state'), '--address', address], {
    env: { ...process.env, NOTIFY_SOCKET: notify.address },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  daemon.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => daemon.once('exit', resolve));
  t.after(() => daemon.exitCode === null && daemon.kill('SIGKILL'));

  assert.equal(await notify.receive(), 'READY=1');
  const connection = new Connection(address, undefined);
  const { version } = await connection.unary<{ version: string }>('containerd.services.version.v1.Version', 'Version', {});
  connection.close();
  assert.match(version, /^1\.6\./, 'the socket serves as soon as READY=1 arrives');
  // the warm shim the daemon keeps booted is its child: it must not inherit NOTIFY_SOCKET
  const children = childrenOf(daemon.pid!);
  assert.ok(children.length > 0, 'the daemon runs a warm shim');
  for (const child of children) assert.doesNotMatch(readFileSync(`/proc/${child}/environ`, 'utf8'), /NOTIFY_SOCKET/);
  // the daemon's log lines go to stderr, for the journal
  assert.match(stderr, /level=info msg="ledgerd serving on /);

  daemon.kill('SIGTERM');
  assert.equal(await notify.receive(), 'STOPPING=1');
  assert.equal(await exited, 0, stderr);
});

function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      try {
        // the parent pid is the 2nd field after the parenthesised command name
        return Number(readFileSync(`/proc/${name}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

test('a notification reaches an abstract socket address (NOTIFY_SOCKET=@name)', async (t) => {
  const notify = bindNotifySocket(t, `@ledgerd-test-notify-${process.pid}`);
  sendNotification(notify.address, 'READY=1');
  assert.equal(await notify.receive(), 'READY=1');
  assert.throws(() => sendNotification('vsock:2:1234', 'READY=1'), /NOTIFY_SOCKET "vsock:2:1234": only unix socket paths/);
});
