/**
 * The shim v2 runtime, as root: the shim contract suite (contract.ts) run against Debian's
 * containerd-shim-runc-v2 and against ledgerd's own shim (bin/containerd-shim-ledger-v1), started
 * with `start` and on warm shims, all over runc; then the runtime's own handling of bad input,
 * faulty shims and a hung one.
 */
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { Code } from '../../src/shims/wire/ttrpc/index.js';
import { ociSpec, skipWithoutRunc, until } from '../helpers/shim-bundle.js';
import { SHIM_BINARY } from '../helpers/own-shim.js';
import { createTask, fixture, hasCode, RUNC, shimContract, shimPidOf, type ShimUnderTest } from './contract.js';

const RUNC_SHIM = '/usr/bin/containerd-shim-runc-v2';
const skip = process.getuid?.() !== 0 ? 'needs root' : !existsSync(RUNC_SHIM) ? 'containerd-shim-runc-v2 is not installed' : skipWithoutRunc;

const SHIMS: ShimUnderTest[] = [
  { name: 'containerd-shim-runc-v2', runtime: RUNC, binary: RUNC_SHIM, socketDir: () => '/run/containerd/s' },
  {
    name: 'containerd-shim-ledger-v1',
    runtime: 'io.containerd.ledger.v1',
    binary: SHIM_BINARY,
    socketDir: (state) => join(dirname(state), 's'),
  },
  {
    name: 'containerd-shim-ledger-v1 (warm)',
    runtime: 'io.containerd.ledger.v1',
    binary: SHIM_BINARY,
    socketDir: (state) => join(dirname(state), 's'),
    warmShims: 1,
  },
];
for (const shim of SHIMS) shimContract(shim, skip);

test('bad input: unknown runtime, bad ids, a duplicate task, a failing runc create leave nothing behind', { skip }, async (t) => {
  const f = await fixture(t);
  const runtime = await f.open();
  const base = {
    namespace: f.namespace,
    spec: Buffer.from(JSON.stringify(ociSpec({ args: ['sleep', '1000'] }))),
    rootfs: [{ type: 'bind', source: f.rootfs, options: ['rbind', 'rw'] }],
    stdin: '',
    stdout: '',
    stderr: '',
    terminal: false,
  };
  const nsDir = join(f.options.state, f.namespace);
  await assert.rejects(runtime.create({ ...base, id: 'a', runtime: 'io.containerd.nosuch.v9' }), (err: Error & { kind?: string }) =>
    err.kind === 'not found' && /binary not installed "containerd-shim-nosuch-v9"/.test(err.message),
  );
  await assert.rejects(runtime.create({ ...base, id: 'a', runtime: 'runc' }), /invalid runtime name runc/);
  await assert.rejects(runtime.create({ ...base, id: 'a', runtime: RUNC, runtimePath: '/no/such/shim' }), /invalid custom binary path/);
  await assert.rejects(runtime.create({ ...base, id: 'bad/id', runtime: RUNC }), (err: Error & { kind?: string }) => err.kind === 'invalid argument' && /task id "bad\/id"/.test(err.message));
  assert.equal(existsSync(join(nsDir, 'a')), false);

  const broken = { ...base, spec: Buffer.from(JSON.stringify(ociSpec({ args: ['/no/such/binary'] }))) };
  await assert.rejects(runtime.create({ ...broken, id: 'broken', runtime: RUNC }), /no such file or directory|not found/);
  assert.equal(existsSync(join(nsDir, 'broken')), false, 'the bundle of a failed create is removed');
  assert.equal(runtime.get(f.namespace, 'broken'), undefined);
  assert.deepEqual(runtime.deaths, []);

  const task = await runtime.create({ ...base, id: 'dup', runtime: RUNC, runtimePath: RUNC_SHIM });
  await assert.rejects(runtime.create({ ...base, id: 'dup', runtime: RUNC }), (err: Error & { kind?: string }) => err.kind === 'already exists' && err.message === 'task dup');
  await task.delete(); // a created, never started task can be deleted
  assert.equal(existsSync(join(nsDir, 'dup')), false);
});

/**
 * A shim binary that starts like a shim v2 (`start` prints the address of a server it launched,
 * `delete` answers an empty DeleteResponse) and then misbehaves on its ttrpc socket: `garbage`
 * answers the first request with a frame no ttrpc server sends, `crash` exits on it.
 */
function faultyShim(dir: string, fault: 'garbage' | 'crash'): string {
  const path = join(dir, `faulty-shim-${fault}`);
  writeFileSync(
    path,
    `#!${process.execPath}
const { spawn } = require('node:child_process');
const net = require('node:net');
const socket = require('node:path').join(process.cwd(), 'faulty.sock');
const action = process.argv[process.argv.length - 1];
if (action === 'start') {
  const server = spawn(process.execPath, [__filename, 'serve'], { detached: true, stdio: 'ignore' });
  server.unref();
  const wait = () => (require('node:fs').existsSync(socket) ? (process.stdout.write('unix://' + socket), process.exit(0)) : setTimeout(wait, 20));
  wait();
} else if (action === 'delete') {
  process.exit(0);
} else if (action === 'serve') {
  net.createServer((conn) => conn.once('data', () => {
    if (${JSON.stringify(fault)} === 'crash') process.exit(3);
    const frame = Buffer.alloc(14);
    frame.writeUInt32BE(4, 0); frame.writeUInt32BE(1, 4); frame[8] = 0x7f;
    conn.write(frame);
    setTimeout(() => process.exit(0), 5000).unref();
  })).listen(socket);
}
`,
    { mode: 0o755 },
  );
  return path;
}

test('faulty shims: garbage on the ttrpc socket or a crash during Create fail the create saying why; nothing is left and the id is free again', { skip }, async (t) => {
  const f = await fixture(t);
  const runtime = await f.open();
  const shim = SHIMS[1]!;
  const nsDir = join(f.options.state, f.namespace);
  for (const [fault, why] of [
    ['garbage', /ttrpc: closed: protocol error: message type 127 from the server/],
    ['crash', /ttrpc: closed/],
  ] as const) {
    await assert.rejects(createTask(runtime, f, { ...shim, binary: faultyShim(f.dir, fault) }, 'faulty', ['true']), why, fault);
    assert.equal(runtime.get(f.namespace, 'faulty'), undefined, `${fault}: no task`);
    await until(`${fault}: the bundle removed`, () => !existsSync(join(nsDir, 'faulty')));
  }
  const task = await createTask(runtime, f, shim, 'faulty', ['sh', '-c', 'exit 5']);
  const exited = task.wait();
  await task.start();
  assert.equal((await exited).exitStatus, 5, 'the same id runs on a sound shim');
  await task.delete();
});

test('a shim that hangs (SIGSTOP): State fails with DeadlineExceeded after the state timeout; once it runs again, so does its task', { skip }, async (t) => {
  const f = await fixture(t);
  const runtime = await f.open();
  const task = await createTask(runtime, f, SHIMS[1]!, 'hung', ['sleep', '1000']);
  await task.start();
  const shimPid = shimPidOf(task.pid);
  process.kill(shimPid, 'SIGSTOP');
  t.after(() => process.kill(shimPid, 'SIGCONT'));
  const asked = Date.now();
  await assert.rejects(task.state(), hasCode(Code.DeadlineExceeded));
  assert.ok(Date.now() - asked >= runtime.timeouts.state - 50, 'after the state timeout');
  process.kill(shimPid, 'SIGCONT');
  assert.equal((await task.state()).status, 'running');
  const exited = task.wait();
  await task.kill(9);
  assert.equal((await exited).exitStatus, 137);
  await task.delete();
  assert.deepEqual(runtime.deaths, [], 'a shim that was only slow is not taken for dead');
});
