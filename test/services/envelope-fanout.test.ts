import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { EventLog } from '../../src/log/index.js';
import { parseFilters } from '../../src/filters/index.js';
import { envelopeFanout, type EnvelopeWrap } from '../../src/services/envelope-fanout.js';
import { tempDir } from '../helpers/tmp.js';

const withSeq: EnvelopeWrap = (seq, envelope) => ({ seq, topic: envelope.topic });

/**
 * A server stream as grpc-js shows it to a handler. `fullEvery` makes write() answer false (the
 * transport's buffer is full) every that many messages, with 'drain' some milliseconds later.
 */
function fakeCall(fullEvery = 0) {
  const received: { seq: number; topic: string }[] = [];
  const call = Object.assign(new EventEmitter(), {
    cancelled: false,
    destroyed: false,
    writableEnded: false,
    received,
    write(message: { seq: number; topic: string }) {
      received.push(message);
      if (fullEvery === 0 || received.length % fullEvery !== 0) return true;
      setTimeout(() => call.emit('drain'), 5);
      return false;
    },
  });
  return call;
}

const namespaceEvent = (i: number) =>
  i % 2 === 0
    ? { namespace: 'default', stream: `namespaces/n${i}`, type: 'NamespaceCreated', payload: { name: `n${i}`, labels: {} } }
    : { namespace: 'default', stream: `namespaces/n${i}`, type: 'NamespaceDeleted', payload: { name: `n${i}` } };

async function until(condition: () => boolean, what: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

test('subscribers at the head, behind a full transport, filtered or resuming each get every envelope exactly once, in order', async (t) => {
  const log = EventLog.open({ dir: tempDir(t), readBatch: 16, recentRecords: 8 });
  t.after(() => log.close());
  const fanout = envelopeFanout(log);
  for (let i = 0; i < 40; i++) await log.append([namespaceEvent(i)]);

  const atHead = fakeCall();
  const full = fakeCall(7);
  const deletes = fakeCall(3);
  const resuming = fakeCall(11);
  const subscriptions = [
    fanout.subscribe(atHead as never, log.head + 1, parseFilters([]), withSeq),
    fanout.subscribe(full as never, log.head + 1, parseFilters([]), withSeq),
    fanout.subscribe(deletes as never, log.head + 1, parseFilters(['topic=="/namespaces/delete"']), withSeq),
    fanout.subscribe(resuming as never, 5, parseFilters([]), withSeq),
  ];
  const total = 400;
  for (let i = 40; i < total; i += 4) await log.append([40, 41, 42, 43].map((k) => namespaceEvent(i + k - 40)));

  const seqs = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, k) => from + k);
  const expected = new Map([
    [atHead, seqs(41, total)],
    [full, seqs(41, total)],
    [deletes, seqs(41, total).filter((seq) => (seq - 1) % 2 === 1)],
    [resuming, seqs(5, total)],
  ]);
  for (const [call, want] of expected) {
    await until(
      () => call.received.length >= want.length,
      () => `${call.received.length} of ${want.length} arrived`,
    );
  }
  // nothing more arrives later (no record twice)
  await new Promise((resolve) => setTimeout(resolve, 50));
  for (const [call, want] of expected) assert.deepEqual(call.received.map((m) => m.seq), want);
  assert.ok(deletes.received.every((m) => m.topic === '/namespaces/delete'));

  // a cancelled subscriber ends; the others go on
  atHead.emit('cancelled');
  await subscriptions[0];
  await log.append([namespaceEvent(total)]);
  await until(() => full.received.length === total - 40 + 1, () => `${full.received.length} arrived`);
  assert.equal(atHead.received.length, total - 40);

  // one that subscribes at the head before the fan-out has passed the newest record is not shown it
  await log.append([namespaceEvent(total + 1)]);
  const late = fakeCall();
  subscriptions.push(fanout.subscribe(late as never, log.head + 1, parseFilters([]), withSeq));
  await log.append([namespaceEvent(total + 2)]);
  await until(() => late.received.length > 0 && full.received.length === total - 40 + 3, () => `${late.received.length} arrived late`);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(late.received.map((m) => m.seq), [total + 3]);

  // closing the log ends every subscription, also one waiting for its transport to drain
  full.write = () => false;
  await log.append([namespaceEvent(total + 3)]);
  await log.close();
  await Promise.all(subscriptions);
});
