// What an export message is made of (subjects, ids, JSON body), and the window of records in flight.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AckWindow } from '../../src/export/ack-window.js';
import { checkSubjectPrefix, exportMessage, nodeSubjects, rfc3339Nanos, seqOfMessage, subjectToken } from '../../src/export/message.js';
import type { LogRecord } from '../../src/log/index.js';

test('subject tokens keep letters, digits, _ and -, percent-encode the rest, and name the empty namespace _', () => {
  assert.equal(subjectToken('default'), 'default');
  assert.equal(subjectToken('k8s.io'), 'k8s%2Eio');
  assert.equal(subjectToken('a*b>c d%'), 'a%2Ab%3Ec%20d%25');
  assert.equal(subjectToken('é'), '%C3%A9');
  assert.equal(subjectToken(''), '_');
  assert.equal(nodeSubjects('ledgerd.audit', 'n1.example'), 'ledgerd.audit.n1%2Eexample.>');
  assert.equal(checkSubjectPrefix('ledgerd.audit'), 'ledgerd.audit');
  for (const bad of ['', 'a..b', 'a.*', 'a.>', 'a b', '.a']) assert.throws(() => checkSubjectPrefix(bad), /subject_prefix/);
});

test('a record becomes a subject, a message id of node and seq, headers and a JSON body', () => {
  const record: LogRecord = {
    seq: 42,
    time: 1_796_000_000_123_456_789n,
    namespace: 'k8s.io',
    stream: 'events',
    version: 3,
    type: 'EnvelopePublished',
    schema: 1,
    payload: { topic: '/x', typeUrl: 't', value: Buffer.from('hi'), timestamp: 5n },
    meta: { peerUid: 1000 },
  };
  const message = exportMessage('ledgerd', 'n1', record);
  assert.equal(message.subject, 'ledgerd.n1.k8s%2Eio.EnvelopePublished');
  assert.equal(message.msgId, 'n1:42');
  assert.equal(message.headers['Ledgerd-Seq'], '42');
  assert.equal(message.headers['Ledgerd-Schema'], '1');
  const body = JSON.parse(Buffer.from(message.body).toString()) as Record<string, unknown>;
  assert.deepEqual(body, {
    format: 1,
    node: 'n1',
    seq: 42,
    time: '2026-11-30T00:53:20.123456789Z',
    namespace: 'k8s.io',
    stream: 'events',
    version: 3,
    type: 'EnvelopePublished',
    schema: 1,
    payload: { topic: '/x', typeUrl: 't', value: 'aGk=', timestamp: '5' },
    meta: { peerUid: 1000 },
  });
  assert.equal(rfc3339Nanos(1_000_000_007n), '1970-01-01T00:00:01.000000007Z');
  const headers = (h: Record<string, string>) => ({ get: (name: string) => h[name] ?? '' });
  assert.equal(seqOfMessage('n1', headers({ 'Ledgerd-Node': 'n1', 'Ledgerd-Seq': '42' })), 42);
  assert.equal(seqOfMessage('n1', headers({ 'Ledgerd-Node': 'n2', 'Ledgerd-Seq': '42' })), undefined);
  assert.equal(seqOfMessage('n1', undefined), undefined);
});

test('the ack window moves only over a gap-free prefix, counts passed records, and holds at most its capacity', async () => {
  const moves: [number, number | undefined][] = [];
  const window = new AckWindow(3, 10, (acked, exported) => moves.push([acked, exported]));
  window.add(11);
  window.add(12);
  window.pass(13);
  assert.equal(window.full, true);
  let roomy = false;
  const room = window.room().then(() => (roomy = true));
  window.settle(12);
  assert.equal(window.acked, 10, 'an ack after a gap does not move the position');
  await Promise.resolve();
  assert.equal(roomy, false);
  window.settle(11);
  assert.equal(window.acked, 13);
  assert.deepEqual(moves, [[13, 12]]);
  await room;
  assert.equal(window.inFlight, 0);
  window.pass(14);
  assert.deepEqual(moves.at(-1), [14, undefined], 'a passed record alone moves the position but exports nothing');
});
