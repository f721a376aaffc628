import { test } from 'node:test';
import assert from 'node:assert/strict';
import { status, type ServiceError } from '@grpc/grpc-js';
import { startTestDaemon } from '../helpers/daemon.js';
import { decodeMessage, packAny } from '../../src/api/proto.js';
import type { Connection } from '../../src/cli/grpc-client.js';

const NS = 'containerd.services.namespaces.v1.Namespaces';
const EVENTS = 'containerd.services.events.v1.Events';
const LOG = 'ledgerd.services.log.v1.Log';

const grpcError = (code: status, pattern?: RegExp) => (err: unknown) => {
  const e = err as ServiceError;
  assert.equal(e.code, code, `code ${e.code} (${e.details})`);
  if (pattern) assert.match(e.details, pattern);
  return true;
};

/** Collects a server stream's messages until `count` arrived. */
function collect<T>(stream: import('@grpc/grpc-js').ClientReadableStream<T>, count: number, timeoutMs = 5000): Promise<T[]> {
  const got: T[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${got.length} of ${count} messages arrived`)), timeoutMs);
    stream.on('data', (message: T) => {
      got.push(message);
      if (got.length === count) {
        clearTimeout(timer);
        stream.cancel();
        resolve(got);
      }
    });
    stream.on('error', (err: ServiceError) => {
      if (err.code !== status.CANCELLED) {
        clearTimeout(timer);
        reject(err);
      }
    });
  });
}

async function namespaces(c: Connection): Promise<Record<string, Record<string, string>>> {
  const reply = await c.unary<{ namespaces: { name: string; labels: Record<string, string> }[] }>(NS, 'List', {});
  return Object.fromEntries(reply.namespaces.map((n) => [n.name, n.labels]));
}

test('version, health and introspection answer like containerd', async (t) => {
  const daemon = await startTestDaemon(t);
  const c = daemon.connect();
  const version = await c.unary<{ version: string; revision: string }>('containerd.services.version.v1.Version', 'Version', {});
  assert.match(version.version, /^1\.6\.\d+\+ledgerd\./);

  assert.deepEqual(await c.unary('grpc.health.v1.Health', 'Check', { service: '' }), { status: 'SERVING' });
  await assert.rejects(c.unary('grpc.health.v1.Health', 'Check', { service: 'nope' }), grpcError(status.NOT_FOUND, /unknown service/));

  const INTRO = 'containerd.services.introspection.v1.Introspection';
  const all = await c.unary<{ plugins: { type: string; id: string; init_err: unknown }[] }>(INTRO, 'Plugins', { filters: [] });
  assert.ok(all.plugins.some((p) => p.type === 'io.containerd.grpc.v1' && p.id === 'namespaces'));
  const grpcOnly = await c.unary<{ plugins: { type: string }[] }>(INTRO, 'Plugins', { filters: ['type==io.containerd.grpc.v1'] });
  assert.ok(grpcOnly.plugins.length > 0 && grpcOnly.plugins.every((p) => p.type === 'io.containerd.grpc.v1'));
  await assert.rejects(c.unary(INTRO, 'Plugins', { filters: ['type=='] }), grpcError(status.INVALID_ARGUMENT, /expected value or quoted/));

  const { uuid } = await c.unary<{ uuid: string }>(INTRO, 'Server', {});
  assert.match(uuid, /^[0-9a-f-]{36}$/);
  assert.equal(await daemon.stop(), 0, daemon.output());
  const again = await daemon.restart();
  assert.equal((await again.connect().unary<{ uuid: string }>(INTRO, 'Server', {})).uuid, uuid, 'the UUID persists across restarts');
});

test('namespaces: containerd semantics, and bad input changes nothing', async (t) => {
  const daemon = await startTestDaemon(t);
  const c = daemon.connect();
  await c.unary(NS, 'Create', { namespace: { name: 'team', labels: { a: '1' } } });
  await c.unary(NS, 'Update', { namespace: { name: 'team', labels: { b: '2' } }, update_mask: { paths: ['labels.b'] } });
  assert.deepEqual(await namespaces(c), { team: { a: '1', b: '2' } });

  const before = await c.unary<{ seq: number }>(LOG, 'Head', {});
  await assert.rejects(c.unary(NS, 'Create', { namespace: { name: 'Bad/Name' } }), grpcError(status.INVALID_ARGUMENT, /namespace "Bad\/Name" must match/));
  await assert.rejects(c.unary(NS, 'Create', { namespace: { name: 'team' } }), grpcError(status.ALREADY_EXISTS, /namespace "team": already exists/));
  await assert.rejects(c.unary(NS, 'Create', { namespace: { name: 'big', labels: { k: 'x'.repeat(5000) } } }), grpcError(status.INVALID_ARGUMENT, /4096 bytes/));
  await assert.rejects(
    c.unary(NS, 'Update', { namespace: { name: 'team', labels: {} }, update_mask: { paths: ['name'] } }),
    grpcError(status.INVALID_ARGUMENT, /cannot update "name" field/),
  );
  await assert.rejects(c.unary(NS, 'Delete', { name: 'missing' }), grpcError(status.NOT_FOUND, /namespace "missing": not found/));
  assert.equal((await c.unary<{ seq: number }>(LOG, 'Head', {})).seq, before.seq, 'no event was appended');
  assert.deepEqual(await namespaces(c), { team: { a: '1', b: '2' } });

  // Get never fails; Update of a missing namespace creates it
  assert.deepEqual(await c.unary(NS, 'Get', { name: 'ghost' }), { namespace: { name: 'ghost', labels: {} } });
  await c.unary(NS, 'Update', { namespace: { name: 'fresh', labels: { x: 'y' } } });
  assert.deepEqual(Object.keys(await namespaces(c)).sort(), ['fresh', 'team']);
  await c.unary(NS, 'Delete', { name: 'fresh' });
  assert.deepEqual(Object.keys(await namespaces(c)), ['team']);
});

test('events: namespace changes reach subscribers as containerd envelopes; publish and forward', async (t) => {
  const daemon = await startTestDaemon(t);
  const c = daemon.connect();
  const subscription = c.stream<{ topic: string; namespace: string; event: { type_url: string; value: Buffer } }>(EVENTS, 'Subscribe', {
    filters: ['topic~="^/namespaces/"', 'topic=="/custom/thing"'],
  });
  const received = collect(subscription, 4);
  // the subscription starts at the head, and its headers say where that is, at once
  const startsAt = new Promise<string>((resolve) => subscription.once('metadata', (md) => resolve(String(md.get('ledgerd-from-seq')[0]))));
  const head = (await c.unary<{ seq: number }>(LOG, 'Head', {})).seq;
  assert.equal(await startsAt, String(head + 1));
  await c.unary(NS, 'Create', { namespace: { name: 'evns', labels: { l: 'v' } } });
  await c.unary(NS, 'Delete', { name: 'evns' });
  await c.unary(EVENTS, 'Publish', { topic: '/custom/thing', event: packAny('containerd.events.NamespaceDelete', { name: 'published' }) });
  await c.unary(EVENTS, 'Forward', {
    envelope: { timestamp: { seconds: 1_700_000_000, nanos: 5 }, namespace: 'other', topic: '/custom/thing', event: { type_url: 'my.Type', value: Buffer.from('x') } },
  });
  const envelopes = await received;
  assert.deepEqual(envelopes.map((e) => [e.topic, e.namespace, e.event.type_url]), [
    ['/namespaces/create', 'default', 'containerd.events.NamespaceCreate'],
    ['/namespaces/delete', 'evns', 'containerd.events.NamespaceDelete'],
    ['/custom/thing', 'default', 'containerd.events.NamespaceDelete'],
    ['/custom/thing', 'other', 'my.Type'],
  ]);
  assert.deepEqual(decodeMessage('containerd.events.NamespaceCreate', envelopes[0]!.event.value), { name: 'evns', labels: { l: 'v' } });

  await assert.rejects(c.unary(EVENTS, 'Publish', { topic: 'no-slash', event: { type_url: 'x', value: Buffer.alloc(0) } }), grpcError(status.INVALID_ARGUMENT, /must start with '\/'/));
  await assert.rejects(
    daemon.connect('').unary(EVENTS, 'Publish', { topic: '/a', event: { type_url: 'x', value: Buffer.alloc(0) } }),
    grpcError(status.FAILED_PRECONDITION, /namespace is required/),
  );
  await assert.rejects(
    c.unary(EVENTS, 'Forward', { envelope: { namespace: 'n', topic: '/a', event: { type_url: 'x', value: Buffer.alloc(0) } } }),
    grpcError(status.INVALID_ARGUMENT, /timestamp must be set/),
  );
  const bad = c.stream(EVENTS, 'Subscribe', { filters: ['topic==/tasks/exit'] });
  await assert.rejects(collect(bad, 1), grpcError(status.INVALID_ARGUMENT, /invalid quote encountered/));
});

test('a subscriber that disconnects resumes from its last sequence number and misses nothing', async (t) => {
  const daemon = await startTestDaemon(t);
  const c = daemon.connect();
  for (let i = 0; i < 10; i++) await c.unary(NS, 'Create', { namespace: { name: `r${i}` } });
  const first = await collect(c.stream<{ seq: number; envelope: { topic: string } }>(LOG, 'Subscribe', { from_seq: 1 }), 4);
  const last = first[first.length - 1]!.seq;
  const rest = collect(c.stream<{ seq: number }>(LOG, 'Subscribe', { from_seq: last + 1 }), 8);
  for (let i = 0; i < 2; i++) await c.unary(NS, 'Delete', { name: `r${i}` });
  const seqs = [...first.map((e) => e.seq), ...(await rest).map((e) => e.seq)];
  assert.deepEqual(seqs, Array.from({ length: 12 }, (_, i) => i + 1));

  // the same resume through containerd's own Subscribe, with ledgerd's header
  const viaHeader = await collect(c.stream<{ topic: string }>(EVENTS, 'Subscribe', { filters: [] }, { 'ledgerd-from-seq': '11' }), 2);
  assert.deepEqual(viaHeader.map((e) => e.topic), ['/namespaces/delete', '/namespaces/delete']);
});

test('the log: filtered history, head and verify over gRPC', async (t) => {
  const daemon = await startTestDaemon(t);
  const c = daemon.connect();
  await c.unary(NS, 'Create', { namespace: { name: 'one' } });
  await c.unary(NS, 'Create', { namespace: { name: 'two' } });
  await c.unary(NS, 'Delete', { name: 'one' });
  const deletes = await collect(c.stream<{ seq: number; type: string; payload_json: string }>(LOG, 'Read', { from_seq: 1, filters: ['type==NamespaceDeleted'] }), 1);
  assert.deepEqual(deletes.map((r) => [r.seq, r.type, JSON.parse(r.payload_json)]), [[3, 'NamespaceDeleted', { name: 'one' }]]);
  assert.deepEqual(await c.unary(LOG, 'Verify', {}), { ok: true, records: 3, head: 3, problems: [] });
});

test('state survives a clean restart and a SIGKILL', async (t) => {
  let daemon = await startTestDaemon(t);
  await daemon.connect().unary(NS, 'Create', { namespace: { name: 'kept', labels: { a: 'b' } } });
  assert.equal(await daemon.stop(), 0);
  daemon = await daemon.restart();
  await daemon.connect().unary(NS, 'Update', { namespace: { name: 'kept', labels: { c: 'd' } }, update_mask: { paths: ['labels.c'] } });
  await daemon.kill();
  daemon = await daemon.restart();
  assert.deepEqual(await namespaces(daemon.connect()), { kept: { a: 'b', c: 'd' } });
  assert.match(daemon.output(), /projection namespaces: checkpoint at \d+, replayed \d+ events/);
});
