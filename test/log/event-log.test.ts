import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, truncateSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { firstValueFrom, take, toArray } from 'rxjs';
import { EventLog, AppendConflictError, CorruptLogError, verifyLog, type LogRecord } from '../../src/log/index.js';
import { tempDir } from '../helpers/tmp.js';

const ev = (stream: string, payload: unknown = {}, namespace = 'default') => ({
  namespace,
  stream,
  type: 'Thing',
  payload,
});

test('appends get gapless sequence numbers, stream versions and nanosecond times', async (t) => {
  const log = EventLog.open({ dir: tempDir(t) });
  t.after(() => log.close());
  const a = await log.append([ev('things/a', { n: 1 }), ev('things/b', { n: 2 })]);
  const b = await log.append([ev('things/a', { n: 3 })], { expected: [{ namespace: 'default', stream: 'things/a', version: 1 }] });
  assert.equal(a.first, 1);
  assert.equal(a.last, 2);
  assert.equal(b.first, 3);
  const all = [...log.read(1)];
  assert.deepEqual(all.map((r) => [r.seq, r.stream, r.version]), [
    [1, 'things/a', 1],
    [2, 'things/b', 1],
    [3, 'things/a', 2],
  ]);
  assert.deepEqual(all[2]!.payload, { n: 3 });
  assert.equal(typeof all[0]!.time, 'bigint');
  const ms = Number(all[0]!.time / 1_000_000n);
  assert.ok(Math.abs(ms - Date.now()) < 60_000, 'time is wall-clock nanoseconds');
  assert.ok(all[2]!.time >= all[0]!.time);
  assert.equal(log.streamVersion('default', 'things/a'), 2);
});

test('a failed expectation refuses the whole batch and writes nothing', async (t) => {
  const log = EventLog.open({ dir: tempDir(t) });
  t.after(() => log.close());
  await log.append([ev('x')]);
  await assert.rejects(
    log.append([ev('y'), ev('x')], { expected: [{ namespace: 'default', stream: 'x', version: 0 }] }),
    (err: unknown) => err instanceof AppendConflictError && /expected version 0, found 1/.test(err.message),
  );
  assert.equal(log.head, 1);
  assert.equal(log.streamVersion('default', 'y'), 0);
  await assert.rejects(
    log.append([ev('z')], { expected: [{ namespace: 'default', stream: 'z', version: 'exists' }] }),
    AppendConflictError,
  );
});

test('of 64 concurrent creates of one stream exactly one wins', async (t) => {
  const log = EventLog.open({ dir: tempDir(t) });
  t.after(() => log.close());
  const results = await Promise.allSettled(
    Array.from({ length: 64 }, (_, i) =>
      log.append([ev('containers/one', { i })], { expected: [{ namespace: 'default', stream: 'containers/one', version: 0 }] }),
    ),
  );
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  assert.ok(results.filter((r) => r.status === 'rejected').every((r) => r.reason instanceof AppendConflictError));
  assert.equal(log.head, 1);
});

test('concurrent appends are all durable, in one gapless order', async (t) => {
  const dir = tempDir(t);
  const log = EventLog.open({ dir });
  await Promise.all(Array.from({ length: 500 }, (_, i) => log.append([ev(`s/${i % 7}`, { i })])));
  await log.close();
  const reopened = EventLog.open({ dir });
  t.after(() => reopened.close());
  assert.equal(reopened.head, 500);
  const report = verifyLog(reopened);
  assert.deepEqual(report, { ok: true, records: 500, head: 500, problems: [] });
});

test('tail$ replays history, then follows new appends', async (t) => {
  const log = EventLog.open({ dir: tempDir(t), readBatch: 3 });
  t.after(() => log.close());
  for (let i = 0; i < 10; i++) await log.append([ev('s', { i })]);
  const received = firstValueFrom(log.tail$(4).pipe(take(12), toArray()));
  await log.append([ev('s', { i: 10 })]);
  await log.append([ev('s', { i: 11 }), ev('s', { i: 12 })]);
  await log.append([ev('s', { i: 13 }), ev('s', { i: 14 }), ev('s', { i: 15 })]);
  const seqs = (await received).map((r) => r.seq);
  assert.deepEqual(seqs, [4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
});

test('committed$ hands each durable batch to its readers in order, as read() has it, before the append resolves', async (t) => {
  const log = EventLog.open({ dir: tempDir(t) });
  await log.append([ev('s', { i: 0 })]);
  const batches: { seqs: number[]; head: number; sameAsRead: boolean }[] = [];
  let completed = false;
  log.committed$.subscribe({
    next: (records) => batches.push({ seqs: records.map((r) => r.seq), head: log.head, sameAsRead: records.every((r) => [...log.read(r.seq, r.seq)][0] === r) }),
    complete: () => (completed = true),
  });
  const appended = [log.append([ev('s', { i: 1 }), ev('s', { i: 2 })]), log.append([ev('t', { i: 3 })])];
  // emitted once durable, synchronously: when an append resolves, its batch has been handed over
  const seen = await Promise.all(appended.map((append) => append.then(({ last }) => batches.some((b) => b.seqs.includes(last)))));
  assert.deepEqual(seen, [true, true]);
  await assert.rejects(log.append([ev('s', { i: 4 })], { expected: [{ namespace: 'default', stream: 's', version: 1 }] }), AppendConflictError);
  await log.append([ev('s', { i: 5 })]);
  assert.deepEqual(batches.flatMap((b) => b.seqs), [2, 3, 4, 5], 'every record once, in order; nothing of a refused append');
  assert.ok(batches.every((b) => b.head === b.seqs[b.seqs.length - 1] && b.sameAsRead), 'the head has moved, and the records are those read() gives');
  await log.close();
  assert.ok(completed, 'completes when the log closes');
});

for (const recentRecords of [1024, 5]) test(`a slow subscriber and a resuming one each see every event exactly once, in order (${recentRecords} kept)`, async (t) => {
  const log = EventLog.open({ dir: tempDir(t), readBatch: 16, recentRecords });
  t.after(() => log.close());
  const total = 300;
  const writer = (async () => {
    for (let i = 0; i < total; i += 3) {
      await log.append([ev('w', { i }), ev('w', { i: i + 1 }), ev('w', { i: i + 2 })]);
    }
  })();

  const slow = (async () => {
    const seen: number[] = [];
    for await (const record of log.follow(1)) {
      seen.push(record.seq);
      if (seen.length % 50 === 0) await new Promise((r) => setTimeout(r, 20));
      if (seen.length === total) break;
    }
    return seen;
  })();

  const resuming = (async () => {
    const seen: number[] = [];
    let from = 1;
    while (seen.length < total) {
      const controller = new AbortController();
      let got = 0;
      for await (const record of log.follow(from, controller.signal)) {
        seen.push(record.seq);
        from = record.seq + 1;
        if (++got === 37 || seen.length === total) break; // disconnect, then resume from the next seq
      }
      controller.abort();
    }
    return seen;
  })();

  await writer;
  const expected = Array.from({ length: total }, (_, i) => i + 1);
  assert.deepEqual(await slow, expected);
  assert.deepEqual(await resuming, expected);
});

test('readers at the head share records decoded once; older ones come from LMDB, alike', async (t) => {
  const dir = tempDir(t);
  const log = EventLog.open({ dir, recentRecords: 4 });
  const first = log.follow(1)[Symbol.asyncIterator]();
  const second = log.follow(1)[Symbol.asyncIterator]();
  const pending = [first.next(), second.next()];
  await log.append([ev('s', { i: 0, big: 2n ** 60n, at: 5n })]);
  const [a, b] = (await Promise.all(pending)).map((r) => r.value as LogRecord);
  assert.equal(a, b, 'both followers get the one decoded record');
  for (let i = 1; i < 10; i++) await log.append([ev('s', { i }), ev('s', { i, second: true })]);
  // a reader starting at 1 now finds 1..15 only in LMDB and 16..19 in memory
  const late = [...log.read(1)];
  assert.deepEqual(late.map((r) => r.seq), Array.from({ length: 19 }, (_, i) => i + 1));
  assert.equal(late[18], [...log.read(19)][0], 'the newest records are the kept ones');
  const inMemory = JSON.stringify(late, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
  await Promise.all([first.return(undefined), second.return(undefined)]);
  await log.close();
  const reopened = EventLog.open({ dir });
  t.after(() => reopened.close());
  const stored = JSON.stringify([...reopened.read(1)], (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
  assert.equal(inMemory, stored, 'records from memory decode exactly as they do from LMDB');
  assert.deepEqual(late[0]!.payload, { i: 0, big: 2n ** 60n, at: 5 });
});

test('checkpoints are stored by name and survive a reopen', async (t) => {
  const dir = tempDir(t);
  const log = EventLog.open({ dir });
  await log.checkpoints.put('namespaces', { seq: 42, state: { a: [1, 2], big: 2n ** 62n } });
  await log.close();
  const reopened = EventLog.open({ dir });
  t.after(() => reopened.close());
  assert.deepEqual(reopened.checkpoints.get('namespaces'), { seq: 42, state: { a: [1, 2], big: 2n ** 62n } });
  assert.equal(reopened.checkpoints.get('missing'), undefined);
});

test('a checkpoint of an object with more than 65,535 keys round-trips', async (t) => {
  const log = EventLog.open({ dir: tempDir(t) });
  t.after(() => log.close());
  const versions = Object.fromEntries(Array.from({ length: 70_000 }, (_, i) => [`ns/c${i}`, i]));
  await log.checkpoints.put('containers', { seq: 1, state: { versions } });
  assert.equal(Object.keys(log.checkpoints.get<{ versions: object }>('containers')!.state.versions).length, 70_000);
});
