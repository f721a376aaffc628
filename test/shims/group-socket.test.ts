// Shims started for one group at the same instant (two `start`s, or a `start` and a warm shim's
// assignment) over a dead shim's socket file: exactly one of them listens on the group's path,
// the others find it alive and share it. Without the lock all of them found the file dead and
// listened, each removing the one before's fresh socket file (whose shim then served nobody).
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { socketPath } from '../../src/shims/shared/socket-address.js';
import * as api from '../../src/shims/wire/protocol/task.js';
import { listenUnix } from '../../src/util/unix-socket.js';
import type { FromClaimer, ToClaimer } from '../helpers/group-socket-claimer.js';
import { alive, ShimClient, startShim } from '../helpers/own-shim.js';
import { makeBundle, ociSpec } from '../helpers/shim-bundle.js';
import { tempDir } from '../helpers/tmp.js';

const CLAIMER = fileURLToPath(new URL('../helpers/group-socket-claimer.js', import.meta.url));
const CLAIMERS = 3;
const ROUNDS = 40;
/** Rounds of real `start`s: their processes meet in the race less often (1 round in 9 before the lock). */
const START_ROUNDS = 10;

class Claimer {
  private readonly messages: FromClaimer[] = [];
  private readonly waiters: (() => void)[] = [];
  readonly child: ChildProcess;

  constructor() {
    this.child = fork(CLAIMER, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (message: FromClaimer) => {
      this.messages.push(message);
      this.waiters.splice(0).forEach((wake) => wake());
    });
    this.child.on('exit', () => this.waiters.splice(0).forEach((wake) => wake()));
  }

  send(message: ToClaimer): void {
    this.child.send(message);
  }

  async next(): Promise<FromClaimer> {
    while (this.messages.length === 0) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`claimer ${this.child.pid} exited`);
      await new Promise<void>((wake) => this.waiters.push(wake));
    }
    return this.messages.shift()!;
  }
}

/** A dead shim's socket file: bound, then its listener gone without removing it. */
function staleSocket(path: string): void {
  rmSync(path, { force: true });
  closeSync(listenUnix(path));
}

/** The pid the listener at `path` answers with. */
const listenerPid = (path: string): Promise<number> =>
  new Promise((resolve, reject) => {
    let text = '';
    connect(path)
      .on('data', (chunk: Buffer) => (text += chunk.toString()))
      .on('end', () => resolve(Number(text)))
      .on('error', reject);
  });

test(`${CLAIMERS} processes claiming one group socket at once over a dead file: one listens, the others share it (${ROUNDS} rounds)`, { timeout: 120_000 }, async (t) => {
  const dir = tempDir(t, 'ledgerd-group-socket-');
  const path = join(dir, 's', 'group');
  mkdirSync(dirname(path));
  const claimers = Array.from({ length: CLAIMERS }, () => new Claimer());
  t.after(() => claimers.forEach((c) => c.child.kill('SIGKILL')));
  for (const claimer of claimers) assert.equal((await claimer.next()).type, 'ready');

  for (let round = 1; round <= ROUNDS; round++) {
    staleSocket(path);
    claimers.forEach((claimer) => claimer.send({ type: 'claim', path }));
    const answers = await Promise.all(claimers.map((claimer) => claimer.next()));
    for (const answer of answers) assert.equal(answer.type, 'claimed', `round ${round}: ${JSON.stringify(answer)}`);
    const listening = claimers.filter((_, i) => (answers[i] as { listening: boolean }).listening).map((c) => c.child.pid);
    assert.equal(listening.length, 1, `round ${round}: exactly one claimer listens (listening: ${listening.join(', ')})`);
    assert.equal(await listenerPid(path), listening[0], `round ${round}: the path answers from the one that listens`);

    claimers.forEach((claimer) => claimer.send({ type: 'close' }));
    for (const claimer of claimers) assert.equal((await claimer.next()).type, 'closed');
  }
  // the last listener closed: nothing is left, no lock file either
  assert.deepEqual(readdirSync(dirname(path)), []);
});

/** Shim processes (of this checkout's binary) running in one of `bundles`. */
function shimsIn(bundles: string[]): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        return bundles.includes(readlinkSync(`/proc/${pid}/cwd`)) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('containerd-shim-ledger-v1') && alive(Number(pid));
      } catch {
        return false; // gone, or not ours to read
      }
    })
    .map(Number);
}

test(`two \`start\`s for containers of one group at once over a dead shim socket file: one shim, serving both (${START_ROUNDS} rounds)`, { timeout: 120_000 }, async (t) => {
  const dir = tempDir(t, 'ledgerd-group-start-');
  const state = join(dir, 'state');
  const daemonAddress = join(dir, 'containerd.sock');
  const namespace = `group-socket-${process.pid}`;
  const bundles: string[] = [];
  t.after(() => shimsIn(bundles).forEach((pid) => process.kill(pid, 'SIGKILL')));
  for (let round = 1; round <= START_ROUNDS; round++) {
    const group = `pod-${round}`;
    const ids = [`a${round}`, `b${round}`];
    const pair = ids.map((id) => makeBundle(state, namespace, id, ociSpec({ args: ['true'], annotations: { 'io.containerd.runc.v2.group': group } })));
    bundles.push(...pair);
    const path = socketPath(daemonAddress, namespace, group, pair[0]!);
    mkdirSync(dirname(path), { recursive: true });
    staleSocket(path);

    const started = await Promise.all(ids.map((id, i) => startShim({ namespace, id, bundle: pair[i]!, daemonAddress })));
    assert.deepEqual(started.map((s) => s.code), [0, 0], started.map((s) => s.stderr).join('\n'));
    assert.deepEqual(started.map((s) => s.address), [`unix://${path}`, `unix://${path}`]);
    const shim = await ShimClient.connect(path, namespace);
    const { shim_pid } = await shim.call<{ shim_pid: number }>('Connect', api.IdRequest, { id: ids[0] }, api.ConnectResponse);
    assert.deepEqual(shimsIn(pair), [shim_pid], `round ${round}: one shim for the group, the one its socket answers from`);
    // no container was created: Shutdown ends it
    await shim.call('Shutdown', api.ShutdownRequest, { id: ids[0] }).catch(() => {});
    await shim.close();
  }
});
