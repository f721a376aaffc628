import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventLog } from '../../src/log/index.js';
import { ProjectionSet, type Projection } from '../../src/projections/index.js';
import { tempDir } from '../helpers/tmp.js';

interface Counts {
  total: number;
  byStream: Record<string, number>;
}

let evolveCalls = 0;
const counting: Projection<Counts> = {
  name: 'counting',
  version: 1,
  initial: () => ({ total: 0, byStream: {} }),
  evolve(state, record) {
    evolveCalls++;
    state.total++;
    state.byStream[record.stream] = (state.byStream[record.stream] ?? 0) + 1;
    return state;
  },
};

// any type of the vocabulary: the runner hands projections only those
const tick = (stream: string) => ({ namespace: 'default', stream, type: 'LeaseCreated', payload: { id: stream, labels: {} } });

test('a projection replays the log at start, then follows, and waitFor gives read-your-writes', async (t) => {
  const log = EventLog.open({ dir: tempDir(t) });
  t.after(() => log.close());
  for (let i = 0; i < 25; i++) await log.append([tick(`s${i % 3}`)]);
  const set = new ProjectionSet(log);
  const runner = set.add(counting);
  const [report] = set.start();
  assert.deepEqual(report, { name: 'counting', checkpointSeq: 0, replayed: 25 });
  assert.equal(runner.state.total, 25);

  const { last } = await log.append([tick('s0'), tick('new')]);
  await set.waitFor(last);
  assert.equal(runner.state.total, 27);
  assert.equal(runner.state.byStream.new, 1);
  await set.stop();
});

test('start-up loads the checkpoint and replays only the records after it', async (t) => {
  const dir = tempDir(t);
  let log = EventLog.open({ dir });
  let set = new ProjectionSet(log, { checkpointEvery: 10 });
  set.add(counting);
  set.start();
  for (let i = 0; i < 35; i++) await log.append([tick('a')]);
  await set.settle();
  await set.stop(); // final checkpoint at 35
  for (let i = 0; i < 5; i++) await log.append([tick('b')]); // appended while nothing projects
  await log.close();

  log = EventLog.open({ dir });
  t.after(() => log.close());
  set = new ProjectionSet(log);
  const runner = set.add(counting);
  evolveCalls = 0;
  const [report] = set.start();
  assert.deepEqual(report, { name: 'counting', checkpointSeq: 35, replayed: 5 });
  assert.equal(evolveCalls, 5);
  assert.deepEqual(runner.state, { total: 40, byStream: { a: 35, b: 5 } });
  await set.stop();
});

test('a checkpoint of another projection version is ignored and the log replayed in full', async (t) => {
  const dir = tempDir(t);
  const log = EventLog.open({ dir });
  t.after(() => log.close());
  for (let i = 0; i < 4; i++) await log.append([tick('a')]);
  await log.checkpoints.put('counting', { seq: 4, state: { version: 0, state: { total: 999, byStream: {} } } });
  const set = new ProjectionSet(log);
  const runner = set.add(counting);
  const [report] = set.start();
  assert.equal(report!.checkpointSeq, 0);
  assert.equal(runner.state.total, 4);
  await set.stop();
});

test('every reader of a read model shares its one runner: adding it again returns that runner', async (t) => {
  const log = EventLog.open({ dir: tempDir(t) });
  t.after(() => log.close());
  await log.append([tick('s0')]);
  const set = new ProjectionSet(log);
  const first = set.add(counting);
  const second = set.add(counting);
  assert.equal(second, first);
  const reports = set.start();
  assert.equal(reports.length, 1, 'one replay, one checkpoint row');
  assert.equal(first.state.total, 1, 'each record folded in once');
  await set.stop();
});
