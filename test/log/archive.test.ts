// Retention's archive: records moved out of LMDB into segment files read and verify the same.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { EventLog, CorruptLogError, retentionCut, verifyLog, type LogRecord } from '../../src/log/index.js';
import { Archive } from '../../src/log/archive.js';
import { tempDir } from '../helpers/tmp.js';

const json = (records: Iterable<LogRecord>) => JSON.stringify([...records], (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));

async function filled(dir: string, total: number, options: { recentRecords?: number } = {}): Promise<EventLog> {
  const log = EventLog.open({ dir, ...options });
  for (let i = 0; i < total; i += 5) {
    await log.append(Array.from({ length: 5 }, (_, j) => ({ namespace: 'ns', stream: `s/${(i + j) % 7}`, type: 'Thing', payload: { n: i + j, text: 'x'.repeat(100) } })));
  }
  return log;
}

test('archived records read, verify and reopen exactly as they did from LMDB', async (t) => {
  const dir = tempDir(t);
  const log = await filled(dir, 50, { recentRecords: 4 });
  const before = json(log.read(1));
  assert.equal(await log.archiveThrough(30, 8), 30);
  assert.deepEqual(log.archived().map((s) => [s.first, s.last]), [[1, 8], [9, 16], [17, 24], [25, 30]]);
  assert.equal(log.stored().first, 31);
  assert.equal(json(log.read(1)), before, 'history reads the same across archive, LMDB and memory');
  assert.equal(json(log.read(7, 33)), json(JSON.parse(before).slice(6, 33)));
  assert.equal(log.recordAt(12).seq, 12);
  assert.deepEqual(verifyLog(log), { ok: true, records: 50, head: 50, problems: [] });
  await log.append([{ namespace: 'ns', stream: 's/0', type: 'Thing', payload: { n: 50 } }]);
  await log.close();

  const reopened = EventLog.open({ dir });
  t.after(() => reopened.close());
  assert.equal(reopened.head, 51);
  assert.equal(reopened.stored().first, 31);
  assert.equal(json(reopened.read(1, 50)), before);
  assert.equal(await reopened.archiveThrough(1000, 100), 20, 'the head stays in LMDB');
  assert.equal(reopened.stored().first, 51);
  assert.equal(verifyLog(reopened).ok, true);
});

test('a damaged segment is reported by verify and fails reads loudly', async (t) => {
  const dir = tempDir(t);
  const log = await filled(dir, 20);
  t.after(() => log.close());
  await log.archiveThrough(10, 10);
  const [segment] = log.archived();
  const bytes = readFileSync(segment!.path);
  bytes[bytes.length - 12] ^= 0xff;
  writeFileSync(segment!.path, bytes);
  const reopened = EventLog.open({ dir: join(dir) });
  t.after(() => reopened.close());
  assert.throws(() => [...reopened.read(1, 5)], (err: unknown) => err instanceof CorruptLogError && /0000000000000001-0000000000000010\.seg/.test(err.message));
  const report = verifyLog(reopened);
  assert.equal(report.ok, false);
  assert.match(report.problems.join('\n'), /archive segment .*0000000000000001-0000000000000010\.seg/);
});

test('a segment written before a crash that kept its records in LMDB is dropped at open', async (t) => {
  const dir = tempDir(t);
  const log = await filled(dir, 20);
  const stored = [...Array(10).keys()].map((i) => (log as unknown as { records: { getBinary(k: number): Buffer } }).records.getBinary(i + 1));
  await log.close();
  Archive.open(join(dir, 'archive')).write(1, stored);
  const reopened = EventLog.open({ dir });
  t.after(() => reopened.close());
  assert.deepEqual(reopened.archived(), []);
  assert.deepEqual(readdirSync(join(dir, 'archive')), []);
  assert.equal([...reopened.read(1)].length, 20);
});

test('retention cuts by age and by bytes, never past what it is asked', async (t) => {
  const log = await filled(tempDir(t), 100);
  t.after(() => log.close());
  const times = [...log.read(1)].map((r) => r.time);
  assert.equal(retentionCut(log, {}, times[99]! + 1n), 0, 'no policy, nothing archived');
  const limit = times[42]!;
  assert.equal(retentionCut(log, { ageMs: 1 }, limit + 1_000_000n), times.filter((time) => time < limit).length, 'records older than the age');
  assert.equal(retentionCut(log, { ageMs: 3_600_000 }, times[99]!), 0, 'nothing is that old');
  const { bytes } = log.stored();
  const cut = retentionCut(log, { bytes: Math.floor(bytes / 2) }, times[99]!);
  assert.ok(cut >= 45 && cut <= 55, `half the bytes: about half the records (${cut})`);
});
