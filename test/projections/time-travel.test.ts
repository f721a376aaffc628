import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventLog } from '../../src/log/index.js';
import { retained } from '../../src/log/checkpoints.js';
import { ProjectionSet, seqAtTime, stateAt, type Projection } from '../../src/projections/index.js';
import { tempDir } from '../helpers/tmp.js';

interface Seen {
  count: number;
  last: string;
}

const seen: Projection<Seen> = {
  name: 'seen',
  version: 3,
  initial: () => ({ count: 0, last: '' }),
  evolve(state, record) {
    if (record.type !== 'LeaseCreated') return state;
    state.count++;
    state.last = record.payload.id;
    return state;
  },
};

// any type of the vocabulary: read models fold only those
const tick = (n: number) => ({ namespace: 'default', stream: 's', type: 'LeaseCreated', payload: { id: String(n), labels: {} } });

test('retention keeps the newest checkpoints and thins older ones geometrically', () => {
  const all = Array.from({ length: 1000 }, (_, i) => (1000 - i) * 1000); // newest first, every 1000 records
  const kept = retained(all, 4);
  assert.deepEqual(kept.slice(0, 4), [1_000_000, 999_000, 998_000, 997_000]);
  assert.ok(kept.length < 45, `${kept.length} kept`);
  // every point has a checkpoint before it within half its age (plus one interval)
  for (const point of [995_500, 900_000, 500_000, 100_000, 5_000]) {
    const nearest = kept.find((seq) => seq <= point) ?? 0;
    assert.ok(point - nearest <= (1_000_000 - point) / 2 + 1000, `point ${point}: nearest ${nearest}`);
  }
  // thinning as checkpoints come one by one keeps what thinning all at once keeps
  let incremental: number[] = [];
  for (const seq of [...all].reverse()) incremental = retained([...incremental, seq], 4);
  assert.deepEqual(incremental, kept);
});

test('the store keeps a bounded series; stateAt folds from the nearest checkpoint at or before the point', async (t) => {
  const log = EventLog.open({ dir: tempDir(t), checkpointHistory: 2 });
  t.after(() => log.close());
  const set = new ProjectionSet(log, { checkpointEvery: 10 });
  const live = set.add(seen);
  set.start();
  const times: bigint[] = [];
  for (let i = 1; i <= 200; i++) times.push((await log.append([tick(i)])).records[0]!.time);
  await set.settle();
  await set.stop();

  const series = log.checkpoints.series('seen');
  assert.equal(series[0], 200);
  assert.ok(series.length > 3 && series.length < 20, `series ${series}`);
  assert.deepEqual(log.checkpoints.get<{ state: Seen }>('seen')?.state.state, { count: 200, last: '200' });

  for (const point of [0, 1, 9, 10, 11, 57, 150, 199, 200]) {
    const past = await stateAt(log, seen, point);
    assert.deepEqual(past.state, { count: point, last: point ? String(point) : '' });
    assert.ok(past.from <= point && past.folded === point - past.from);
  }
  const recent = await stateAt(log, seen, 195);
  assert.equal(recent.from, 190);
  // the live state is untouched by a fold into the past
  assert.equal(live.state.count, 200);

  // a checkpoint of another projection version is passed over
  const older = await stateAt(log, { ...seen, version: 2 }, 195);
  assert.equal(older.from, 0);
  assert.equal(older.state.count, 195);

  assert.equal(seqAtTime(log, times[56]!), 57);
  assert.equal(seqAtTime(log, times[56]! + 1n), times[57] === times[56]! + 1n ? 58 : 57);
  assert.equal(seqAtTime(log, times[0]! - 1n), 0);
  assert.equal(seqAtTime(log, times[199]! + 10n ** 12n), 200);
});

test('a log written with a single checkpoint row is still read', async (t) => {
  const log = EventLog.open({ dir: tempDir(t) });
  t.after(() => log.close());
  for (let i = 1; i <= 30; i++) await log.append([tick(i)]);
  // the layout before the series: one row named after the projection
  const db = (log.checkpoints as unknown as { db: { put(key: string, value: Buffer): Promise<boolean> } }).db;
  const { encodeValue } = await import('../../src/log/codec.js');
  await db.put('seen', encodeValue({ seq: 20, state: { version: 3, state: { count: 20, last: '20' } } }));
  assert.deepEqual(log.checkpoints.series('seen'), [20]);
  assert.equal(log.checkpoints.get('seen')?.seq, 20);
  const past = await stateAt(log, seen, 25);
  assert.deepEqual([past.from, past.state.count], [20, 25]);
  await log.checkpoints.put('seen', { seq: 30, state: { version: 3, state: { count: 30, last: '30' } } });
  assert.deepEqual(log.checkpoints.series('seen'), [30]);
});
