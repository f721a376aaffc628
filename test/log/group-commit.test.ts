import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GroupCommit, type CommitStore } from '../../src/log/group-commit.js';
import { AppendConflictError, EventLog, LogWriteError, UnencodableEventError, verifyLog, type LogRecord } from '../../src/log/index.js';
import { tempDir } from '../helpers/tmp.js';

const ev = (stream: string, payload: unknown = {}) => ({ namespace: 'default', stream, type: 'Thing', payload });

/**
 * A store that holds records in memory, writes each batch only if the record before it is there
 * (as LMDB's conditional write does), and fails the transactions it is told to fail.
 */
class FakeStore implements CommitStore {
  readonly records = new Map<number, LogRecord>();
  readonly versions = new Map<string, number>();
  failNext = 0;
  private pending: (() => void)[] = [];
  hold = false;

  storedHead = () => this.records.size;
  storedVersion = (key: string) => this.versions.get(key) ?? 0;
  time = () => 1n;

  write(records: readonly LogRecord[]): Promise<boolean> {
    const fail = this.failNext > 0 && this.failNext-- > 0;
    return new Promise((resolve, reject) => {
      const settle = () => {
        if (fail) return reject(new Error('Input/output error'));
        const first = records[0]!.seq;
        if (first > 1 && !this.records.has(first - 1)) return resolve(false);
        for (const r of records) {
          assert.ok(!this.records.has(r.seq), `seq ${r.seq} written twice`);
          this.records.set(r.seq, r);
          this.versions.set(`${r.namespace}/${r.stream}`, r.version);
        }
        resolve(true);
      };
      if (this.hold) this.pending.push(settle);
      else setImmediate(settle);
    });
  }

  release(): void {
    this.hold = false;
    const pending = this.pending;
    this.pending = [];
    for (const settle of pending) settle();
  }
}

const flushTurns = () => new Promise((resolve) => setImmediate(resolve));

test('an event that cannot be encoded is refused alone; the appends beside it are stored', async (t) => {
  const log = EventLog.open({ dir: tempDir(t) });
  t.after(() => log.close());
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  const results = await Promise.allSettled([
    log.append([ev('a', { n: 1 })]),
    log.append([ev('b', { cyclic })]),
    log.append([ev('c', { huge: 10n ** 40n })]),
    log.append([{ ...ev('d'), namespace: 'x'.repeat(70_000) }]),
    log.append([ev('e', { n: 2 })]),
  ]);
  assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled']);
  assert.ok((results[1] as PromiseRejectedResult).reason instanceof UnencodableEventError);
  assert.match(String((results[3] as PromiseRejectedResult).reason), /namespace is 70000 bytes long/);
  assert.equal(log.head, 3);
  assert.deepEqual([...log.read(1)].map((r) => r.stream), ['a', 'c', 'e']);
  assert.equal([...log.read(2)][0]!.payload && ([...log.read(2)][0]!.payload as { huge: bigint }).huge, 10n ** 40n);
  assert.deepEqual(verifyLog(log).problems, []);
  await log.settled();
  await log.append([ev('f')]);
  assert.equal(log.head, 4);
});

test('a failed transaction fails its own appends; batches behind it are written again, gapless', async () => {
  const store = new FakeStore();
  const durable: number[] = [];
  const commit = new GroupCommit(store, (records) => durable.push(...records.map((r) => r.seq)));
  await commit.append([ev('s')], []);

  store.hold = true;
  store.failNext = 1;
  const failing = commit.append([ev('s'), ev('t')], []);
  await flushTurns();
  const behind = commit.append([ev('s')], []);
  await flushTurns();
  // decided on s at version 3, counting the append that will fail
  const conditional = commit.append([ev('u')], [{ namespace: 'default', stream: 's', version: 3 }]).catch((err: unknown) => err);
  store.release();
  await assert.rejects(failing, (err: unknown) => err instanceof LogWriteError && /Input\/output error/.test((err as Error).message));
  const again = await behind;
  assert.deepEqual([again.first, again.last], [2, 2], 'written again first, in its order');
  assert.equal(again.records[0]!.version, 2, 'the stream version counts only what is stored');
  // after the failure s is at 2, so that decision no longer holds
  assert.ok((await conditional) instanceof AppendConflictError);
  await commit.settled();
  assert.deepEqual([...store.records.keys()], Array.from({ length: store.records.size }, (_, i) => i + 1));
  assert.deepEqual(durable, [...store.records.keys()]);
  const later = await commit.append([ev('v')], []);
  assert.equal(later.first, store.records.size);
});

test('settled() waits for what was appended before it, not for appends made after', async () => {
  const store = new FakeStore();
  const commit = new GroupCommit(store, () => undefined);
  store.hold = true;
  const first = commit.append([ev('a')], []);
  let settled = false;
  const waiting = commit.settled().then(() => (settled = true));
  await flushTurns();
  assert.equal(settled, false);
  store.release();
  await first;
  await waiting;
  assert.equal(settled, true);
});
