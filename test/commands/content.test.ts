import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EventLog } from '../../src/log/index.js';
import { ProjectionSet, contentProjection } from '../../src/projections/index.js';
import { ContentCommands, type ContentOptions } from '../../src/commands/content.js';
import { NamespaceCommands, namespaceReadModels } from '../../src/commands/namespaces.js';
import { ContentStore } from '../../src/content/index.js';
import { LedgerError } from '../../src/util/errdefs.js';
import { tempDir } from '../helpers/tmp.js';

const digestOf = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const kind = (k: string, pattern?: RegExp) => (err: unknown) =>
  err instanceof LedgerError && err.kind === k && (!pattern || pattern.test(err.message));

async function setup(t: TestContext, options: ContentOptions = {}, dir = tempDir(t)) {
  const log = EventLog.open({ dir: join(dir, 'log') });
  const projections = new ProjectionSet(log);
  const view = projections.add(contentProjection);
  const namespaces = new NamespaceCommands({ log, projections }, namespaceReadModels(projections));
  const store = await ContentStore.open(join(dir, 'content'));
  projections.start();
  const content = new ContentCommands({ log, projections }, view, store, options);
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await projections.stop();
    await log.close();
  };
  t.after(close);
  return { dir, log, store, content, namespaces, close };
}

async function ingest(content: ContentCommands, ns: string, ref: string, data: string, opts: { expected?: string; labels?: Record<string, string>; lease?: string } = {}) {
  const writer = await content.writer(ns, { ref, total: data.length, expected: opts.expected }, opts.lease, {});
  try {
    await writer.write(Buffer.from(data));
    return await writer.commit(data.length, opts.expected, opts.labels, { requestNamespace: ns });
  } finally {
    await writer.close();
  }
}

const types = (log: EventLog) => [...log.read(1)].map((r) => r.type);

test('write, commit, info, list: the commit is one event that records what was verified', async (t) => {
  const { log, content } = await setup(t);
  const digest = await ingest(content, 'ns', 'ref1', 'hello', { expected: digestOf('hello'), labels: { a: '1', empty: '' } });
  assert.equal(digest, digestOf('hello'));
  const info = content.info('ns', digest);
  assert.deepEqual({ ...info, createdAt: 0n, updatedAt: 0n }, { digest, size: 5, labels: { a: '1' }, createdAt: 0n, updatedAt: 0n });
  assert.ok(info.createdAt > 0n && info.createdAt === info.updatedAt);
  assert.deepEqual(content.list('ns').map((b) => b.digest), [digest]);
  assert.deepEqual(types(log), ['ContentIngestStarted', 'ContentCommitted']);
  const [started, committed] = [...log.read(1)];
  assert.equal(started!.stream, 'ingests/ref1');
  assert.equal(started!.namespace, 'ns');
  assert.deepEqual({ ...(started!.payload as object), expiresAt: undefined }, { ref: 'ref1', backendRef: 'ns/1/ref1', total: 5, expiresAt: undefined });
  assert.ok((started!.payload as { expiresAt: bigint }).expiresAt > started!.time, 'an ingest without a lease expires');
  assert.equal(committed!.stream, `content/${digest}`);
  assert.deepEqual(committed!.payload, { digest, size: 5, labels: { a: '1' }, ref: 'ref1' });
  assert.deepEqual(await content.listStatuses('ns'), [], 'the commit ended the ingest');
});

test('a blob is visible only in the namespace that committed it', async (t) => {
  const { content } = await setup(t);
  const digest = await ingest(content, 'a', 'r', 'data');
  assert.throws(() => content.info('b', digest), kind('not found', new RegExp(`^content digest ${digest}$`)));
  assert.deepEqual(content.list('b'), []);
  assert.throws(() => content.read('b', digest, 0, 1), kind('not found'));
  assert.throws(() => content.info('a', 'sha256:xyz'), kind('invalid argument', /invalid checksum digest length/));
});

test('commit failures store nothing and append nothing but the ingest', async (t) => {
  const { log, store, content, dir } = await setup(t);
  let writer = await content.writer('ns', { ref: 'r' }, undefined, {});
  await writer.write(Buffer.from('12345'));
  await assert.rejects(writer.commit(6, undefined, undefined, {}), kind('failed precondition', /^"r" failed size validation: 5 != 6$/));
  writer = await content.writer('ns', { ref: 'r' }, undefined, {});
  assert.equal(writer.status().offset, 5, 'the ingest stayed');
  const wrong = `sha256:${'1'.repeat(64)}`;
  await assert.rejects(writer.commit(5, wrong, undefined, {}), kind('failed precondition', /^unexpected commit digest sha256:[0-9a-f]{64}, expected sha256:1{64}$/));
  writer = await content.writer('ns', { ref: 'r' }, undefined, {});
  await assert.rejects(writer.commit(5, undefined, { k: 'v'.repeat(5000) }, {}), kind('invalid argument', /^info\.Labels: label key and value greater than maximum size \(4096 bytes\)/));
  assert.deepEqual(types(log), ['ContentIngestStarted']);
  assert.deepEqual(await store.blobs(), []);
  assert.deepEqual(readdirSync(join(dir, 'content', 'blobs')), []);
  assert.deepEqual((await content.listStatuses('ns')).map((s) => [s.ref, s.offset]), [['r', 5]]);
});

test('an expected digest already committed here: AlreadyExists at open, and the blob joins the caller lease', async (t) => {
  const { log, content } = await setup(t);
  const digest = await ingest(content, 'ns', 'r1', 'x');
  await assert.rejects(content.writer('ns', { ref: 'r2', expected: digest }, 'lease-1', {}), kind('already exists', new RegExp(`^content ${digest}$`)));
  const last = [...log.read(1)].at(-1)!;
  assert.equal(last.type, 'LeaseResourceAdded');
  assert.equal(last.stream, 'leases/lease-1');
  assert.deepEqual(last.payload, { id: 'lease-1', resource: { id: digest, type: 'content' } });
  await assert.rejects(content.writer('ns', { ref: 'r3', expected: digest }, undefined, {}), kind('already exists'));
  assert.deepEqual(await content.listStatuses('ns'), []);
});

test('two writers committing the same bytes under different refs: one commit, one AlreadyExists, no ingest left', async (t) => {
  const { log, content } = await setup(t);
  const w1 = await content.writer('ns', { ref: 'one' }, undefined, {});
  const w2 = await content.writer('ns', { ref: 'two' }, undefined, {});
  await w1.write(Buffer.from('same'));
  await w2.write(Buffer.from('same'));
  const results = await Promise.allSettled([w1.commit(4, undefined, undefined, {}), w2.commit(4, undefined, undefined, {})]);
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
  assert.ok(kind('already exists', /^content sha256:/)(failed.reason), String(failed.reason));
  assert.equal(types(log).filter((t) => t === 'ContentCommitted').length, 1);
  assert.deepEqual(await content.listStatuses('ns'), []);
});

test('shared policy: a digest stored for another namespace is committed without bytes; isolated needs the bytes', async (t) => {
  const { log, content } = await setup(t);
  const digest = await ingest(content, 'a', 'r', 'shared bytes');
  const writer = await content.writer('b', { ref: 'link', expected: digest, total: 12 }, undefined, {});
  assert.deepEqual({ ...writer.status(), startedAt: 0n, updatedAt: 0n }, { ref: 'link', offset: 12, total: 12, expected: digest, startedAt: 0n, updatedAt: 0n });
  assert.equal(writer.digest(), digest);
  assert.deepEqual((await content.listStatuses('b')).map((s) => [s.ref, s.offset, s.expected]), [['link', 12, digest]]);
  assert.equal(await writer.commit(12, digest, { in: 'b' }, {}), digest);
  assert.deepEqual(content.info('b', digest).labels, { in: 'b' });
  const started = [...log.read(1)].filter((r) => r.type === 'ContentIngestStarted').at(-1)!;
  assert.equal((started.payload as { shared?: string }).shared, digest);

  // a declared size that differs does not share; data written to a shared ingest unshares it
  const other = await content.writer('c', { ref: 'x', expected: digest, total: 99 }, undefined, {});
  assert.equal(other.status().offset, 0);
  await other.close();
  const unshare = await content.writer('d', { ref: 'y', expected: digest }, undefined, {});
  await unshare.truncate(0);
  await unshare.write(Buffer.from('shared bytes'));
  assert.equal(await unshare.commit(12, digest, undefined, {}), digest);

  const { content: isolated } = await setup(t, { sharing: 'isolated' });
  const d2 = await ingest(isolated, 'a', 'r', 'abc');
  const w = await isolated.writer('b', { ref: 'r', expected: d2 }, undefined, {});
  assert.equal(w.status().offset, 0);
  await w.close();
});

test('update: labels.<k> masks, labels, no mask; bad paths and missing blobs', async (t) => {
  const { log, content } = await setup(t);
  const digest = await ingest(content, 'ns', 'r', 'x', { labels: { a: '1', b: '2' } });
  assert.deepEqual((await content.update('ns', { digest, labels: { c: '3', b: '' } }, ['labels.c', 'labels.b'], {})).labels, { a: '1', c: '3' });
  assert.deepEqual((await content.update('ns', { digest, labels: {} }, ['labels.missing.dotted'], {})).labels, { a: '1', c: '3' });
  assert.deepEqual((await content.update('ns', { digest, labels: { only: 'me' } }, ['labels'], {})).labels, { only: 'me' });
  const updated = await content.update('ns', { digest, labels: { z: '9' } }, [], {});
  assert.deepEqual(updated.labels, { z: '9' });
  assert.ok(updated.updatedAt > updated.createdAt);
  const before = log.head;
  await assert.rejects(content.update('ns', { digest, labels: {} }, ['size'], {}), kind('invalid argument', new RegExp(`^cannot update "size" field on content info "${digest}"$`)));
  await assert.rejects(content.update('ns', { digest, labels: { k: 'v'.repeat(4096) } }, [], {}), kind('invalid argument', /4096 bytes/));
  await assert.rejects(content.update('other', { digest, labels: {} }, [], {}), kind('not found', /^content digest /));
  assert.equal(log.head, before);
});

test('delete removes the namespace link only, appends ContentDeleted; a namespace with blobs cannot be deleted', async (t) => {
  const { log, store, content, namespaces } = await setup(t);
  const digest = await ingest(content, 'ns', 'r', 'to delete');
  await assert.rejects(namespaces.delete('ns', {}), kind('failed precondition', /^namespace "ns" must be empty, but it still has blobs$/));
  await content.delete('ns', digest, 'some-lease', {});
  assert.throws(() => content.info('ns', digest), kind('not found'));
  await assert.rejects(content.delete('ns', digest, undefined, {}), kind('not found'));
  await assert.rejects(content.delete('ns', 'nope', undefined, {}), kind('invalid argument'));
  const last = [...log.read(1)].at(-1)!;
  assert.equal(last.type, 'ContentDeleted');
  assert.deepEqual(last.payload, { digest, lease: 'some-lease' });
  assert.ok(await store.info(digest), 'the bytes stay until the collector takes them');
  await namespaces.delete('ns', {});
});

test('the blob files are listed for a sweep only after a record that can drop a reference, or a commit', async (t) => {
  const { store, content, namespaces } = await setup(t);
  const kept = await ingest(content, 'ns', 'r', 'kept');
  const dropped = await ingest(content, 'ns', 'r2', 'dropped');
  assert.deepEqual(await content.removeUnreferencedBlobs(), []);
  // a file no record names, put there behind the log's back
  const stray = store.layout.blobPath(digestOf('stray'));
  writeFileSync(stray, 'stray');

  await namespaces.create('other', undefined, {});
  assert.deepEqual(await content.removeUnreferencedBlobs(), [], 'no content record since the last sweep: the files are not listed');
  assert.ok(existsSync(stray));

  await content.delete('ns', dropped, undefined, {});
  assert.deepEqual((await content.removeUnreferencedBlobs()).sort(), [dropped, digestOf('stray')].sort());
  assert.ok(!existsSync(stray) && !existsSync(store.layout.blobPath(dropped)));
  assert.ok(existsSync(store.layout.blobPath(kept)));

  writeFileSync(stray, 'stray');
  await ingest(content, 'ns', 'r3', 'a commit lists them again');
  assert.deepEqual(await content.removeUnreferencedBlobs(), [digestOf('stray')]);
});

test('status, list statuses, abort', async (t) => {
  const { log, store, content } = await setup(t);
  const writer = await content.writer('ns', { ref: 'layer-1', total: 10 }, undefined, {});
  await writer.write(Buffer.from('12345'));
  await writer.close();
  const status = await content.status('ns', 'layer-1');
  assert.equal(status.ref, 'layer-1');
  assert.equal(status.offset, 5);
  assert.equal(status.total, 10);
  assert.equal(status.expected, undefined);
  await assert.rejects(content.status('ns', 'nope'), kind('not found', /^reference nope$/));
  await assert.rejects(content.status('other', 'layer-1'), kind('not found'), 'ingests are per namespace');
  assert.deepEqual((await content.listStatuses('ns')).map((s) => s.ref), ['layer-1']);
  await content.abort('ns', 'layer-1', undefined, {});
  assert.deepEqual(await store.ingests(), []);
  assert.deepEqual(await content.listStatuses('ns'), []);
  await assert.rejects(content.abort('ns', 'layer-1', undefined, {}), kind('not found', /^reference layer-1$/));
  assert.deepEqual(types(log), ['ContentIngestStarted', 'ContentIngestAborted']);
});

test('reopening an ingest appends nothing, unless it joins a lease', async (t) => {
  const { log, content } = await setup(t);
  for (let i = 0; i < 3; i++) await (await content.writer('ns', { ref: 'r' }, undefined, {})).close();
  assert.deepEqual(types(log), ['ContentIngestStarted']);
  await (await content.writer('ns', { ref: 'r' }, 'l1', {})).close();
  const last = [...log.read(1)].at(-1)!;
  assert.equal(last.type, 'ContentIngestStarted');
  assert.equal((last.payload as { lease?: string }).lease, 'l1');
  assert.equal((last.payload as { expiresAt?: bigint }).expiresAt, undefined);
});

test('the lease header goes into ContentCommitted; a LeaseCheck makes unknown leases NotFound', async (t) => {
  const { log, content } = await setup(t);
  const digest = await ingest(content, 'ns', 'r', 'leased', { lease: 'anything' });
  const committed = [...log.read(1)].find((r) => r.type === 'ContentCommitted')!;
  assert.deepEqual(committed.payload, { digest, size: 6, labels: {}, ref: 'r', lease: 'anything' });

  const known = new Set(['ns/good']);
  const { log: log2, content: checked } = await setup(t, { leaseCheck: (ns, id) => known.has(`${ns}/${id}`) });
  await assert.rejects(checked.writer('ns', { ref: 'r' }, 'bad', {}), kind('not found', /^lease does not exist$/));
  assert.equal(log2.head, 0);
  await ingest(checked, 'ns', 'r', 'ok', { lease: 'good' });
  await ingest(checked, 'ns', 'r2', 'no lease at all');
});

test('everything survives a restart: blobs, labels and ingests come back from the log', async (t) => {
  const first = await setup(t);
  const digest = await ingest(first.content, 'ns', 'r', 'persisted', { labels: { keep: 'me' } });
  const writer = await first.content.writer('ns', { ref: 'half' }, undefined, {});
  await writer.write(Buffer.from('half'));
  await writer.close();
  await first.close();
  const second = await setup(t, {}, first.dir);
  assert.deepEqual(second.content.info('ns', digest).labels, { keep: 'me' });
  assert.equal((await second.content.status('ns', 'half')).offset, 4);
  const resumed = await second.content.writer('ns', { ref: 'half' }, undefined, {});
  assert.equal(resumed.status().offset, 4);
  await resumed.write(Buffer.from(' done'));
  assert.equal(await resumed.commit(9, digestOf('half done'), undefined, {}), digestOf('half done'));
});
