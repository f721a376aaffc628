// Shims started for one group at the same instant (two `start`s, or a `start` and a warm shim's
// assignment) over a dead shim's socket file: exactly one of them listens on the group's path,
// the others find it alive and share it. Without the lock all of them found the file dead and
// listened, each removing the one before's fresh socket file (whose shim then served nobody).
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { listenUnix } from '../../src/util/unix-socket.js';
import type { FromClaimer, ToClaimer } from '../helpers/group-socket-claimer.js';
import { tempDir } from '../helpers/tmp.js';

const CLAIMER = fileURLToPath(new URL('../helpers/group-socket-claimer.js', import.meta.url));
const CLAIMERS = 3;
const ROUNDS = 40;

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
