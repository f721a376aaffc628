import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, readdirSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ContentStore, sha256Hex } from '../../src/content/index.js';
import { LedgerError } from '../../src/util/errdefs.js';
import { tempDir } from '../helpers/tmp.js';

const digestOf = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const kind = (k: string, pattern?: RegExp) => (err: unknown) =>
  err instanceof LedgerError && err.kind === k && (!pattern || pattern.test(err.message));

async function open(t: TestContext) {
  const root = join(tempDir(t), 'io.containerd.content.v1.content');
  return { root, store: await ContentStore.open(root) };
}

async function collect(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return Buffer.concat(parts);
}

test('an ingest is laid out as containerd lays it out: ingest/<sha256(backendRef)>/{ref,data,startedat,updatedat,total}', async (t) => {
  const { root, store } = await open(t);
  const writer = await store.writer('ns/1/layer', 11);
  await writer.write(Buffer.from('hello '));
  await writer.close();
  const dir = join(root, 'ingest', sha256Hex('ns/1/layer'));
  assert.deepEqual(readdirSync(dir).sort(), ['data', 'ref', 'startedat', 'total', 'updatedat']);
  assert.equal(readFileSync(join(dir, 'ref'), 'utf8'), 'ns/1/layer');
  assert.equal(readFileSync(join(dir, 'data'), 'utf8'), 'hello ');
  assert.equal(readFileSync(join(dir, 'total'), 'utf8'), '11');
  assert.match(readFileSync(join(dir, 'startedat'), 'utf8'), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  const status = await store.status('ns/1/layer');
  assert.equal(status.offset, 6);
  assert.equal(status.total, 11);
  assert.ok(status.updatedAt >= status.startedAt);
  assert.deepEqual(await store.ingests(), ['ns/1/layer']);
});

test('commit verifies size and digest, then renames the data to blobs/sha256/<hex>, read-only, and drops the ingest', async (t) => {
  const { root, store } = await open(t);
  const data = Buffer.from('some blob bytes');
  const writer = await store.writer('ns/1/a', data.length);
  assert.equal(await writer.write(data), data.length);
  assert.equal(writer.digest(), digestOf(data));
  const result = await writer.commit(data.length, digestOf(data));
  assert.deepEqual(result, { digest: digestOf(data), size: data.length, alreadyStored: false });
  const path = join(root, 'blobs', 'sha256', digestOf(data).slice(7));
  assert.deepEqual(readFileSync(path), data);
  assert.equal(statSync(path).mode & 0o777 & 0o333, 0, 'no write or execute bits');
  assert.equal(existsSync(join(root, 'ingest', sha256Hex('ns/1/a'))), false);
  assert.deepEqual(await store.info(digestOf(data)), { digest: digestOf(data), size: data.length });
  assert.deepEqual(await store.blobs(), [{ digest: digestOf(data), size: data.length }]);
  assert.equal(store.isWriting('ns/1/a'), false, 'the lock is released');
});

test('a wrong size or digest stores nothing and leaves the ingest to resume or abort', async (t) => {
  const { root, store } = await open(t);
  const data = Buffer.from('0123456789');
  let writer = await store.writer('ns/1/bad', 0);
  await writer.write(data);
  await assert.rejects(writer.commit(11, undefined), kind('failed precondition', /^unexpected commit size 10, expected 11$/));
  assert.equal(store.isWriting('ns/1/bad'), false);
  writer = await store.writer('ns/1/bad', 0);
  assert.equal(writer.status().offset, 10, 'resumed after the failed commit');
  const wrong = `sha256:${'0'.repeat(64)}`;
  await assert.rejects(writer.commit(10, wrong), kind('failed precondition', new RegExp(`^unexpected commit digest ${digestOf(data)}, expected ${wrong}$`)));
  assert.deepEqual(readdirSync(join(root, 'blobs')), [], 'no blob, not even half of one');
  assert.deepEqual(await store.blobs(), []);
  assert.equal((await store.status('ns/1/bad')).offset, 10);
  await store.abort('ns/1/bad');
  assert.deepEqual(await store.ingests(), []);
  await assert.rejects(store.abort('ns/1/bad'), kind('not found'));
  await assert.rejects(store.status('ns/1/bad'), kind('not found'));
});

test('a broken upload resumes from its offset with the digest state rebuilt', async (t) => {
  const { store } = await open(t);
  const data = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
  let writer = await store.writer('ns/1/big', data.length);
  await writer.write(data.subarray(0, 2_000_000));
  await writer.close(); // the stream broke
  writer = await store.writer('ns/1/big', data.length);
  assert.equal(writer.status().offset, 2_000_000);
  assert.equal(writer.digest(), digestOf(data.subarray(0, 2_000_000)));
  await writer.write(data.subarray(2_000_000));
  assert.equal((await writer.commit(data.length, digestOf(data))).digest, digestOf(data));
  assert.deepEqual(await collect(store.read(digestOf(data), 0, data.length)), data);
});

test('a conflicting total or a foreign ref file starts the ingest afresh', async (t) => {
  const { root, store } = await open(t);
  let writer = await store.writer('ns/1/x', 100);
  await writer.write(Buffer.from('abc'));
  await writer.close();
  writer = await store.writer('ns/1/x', 200);
  assert.equal(writer.status().offset, 0);
  assert.equal(writer.status().total, 200);
  await writer.write(Buffer.from('abc'));
  await writer.close();
  writeFileSync(join(root, 'ingest', sha256Hex('ns/1/x'), 'ref'), 'something else');
  writer = await store.writer('ns/1/x', 0);
  assert.equal(writer.status().offset, 0);
  await writer.close();
  assert.equal(readFileSync(join(root, 'ingest', sha256Hex('ns/1/x'), 'ref'), 'utf8'), 'ns/1/x');
});

test('a second writer on a held ref gets Unavailable "ref <ref> locked for <d> (since <t>)"; the ref frees on close', async (t) => {
  const { store } = await open(t);
  const first = await store.writer('ns/1/held', 0);
  const started = Date.now();
  await assert.rejects(store.writer('ns/1/held', 0), kind('unavailable', /^ref ns\/1\/held locked for [\d.]+(ms|s|µs) \(since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d[.\d]* \+0000 UTC\)$/));
  assert.ok(Date.now() - started >= 20, 'it retried before giving up');
  await first.close();
  const second = await store.writer('ns/1/held', 0);
  await second.close();
});

test('truncate restarts the upload', async (t) => {
  const { store } = await open(t);
  const writer = await store.writer('ns/1/t', 0);
  await writer.write(Buffer.from('wrong bytes'));
  await writer.truncate(0);
  await writer.write(Buffer.from('right'));
  assert.equal((await writer.commit(5, digestOf('right'))).size, 5);
  const other = await store.writer('ns/1/t2', 0);
  await assert.rejects(other.truncate(3), /unsupported size/);
  await other.close();
});

test('committing bytes already stored drops the ingest and renames nothing', async (t) => {
  const { store } = await open(t);
  for (const ref of ['ns/1/one', 'other/1/two']) {
    const writer = await store.writer(ref, 0);
    await writer.write(Buffer.from('same'));
    const result = await writer.commit(0, undefined);
    assert.equal(result.alreadyStored, ref !== 'ns/1/one');
  }
  assert.deepEqual(await store.ingests(), []);
  assert.equal((await store.blobs()).length, 1);
});

test('read with offset and size, in chunks of at most 1 MiB; delete; invalid digests', async (t) => {
  const { store } = await open(t);
  const data = Buffer.from(Array.from({ length: 2.5 * 1024 * 1024 }, (_, i) => i % 251));
  const writer = await store.writer('ns/1/r', 0);
  await writer.write(data);
  const { digest } = await writer.commit(0, undefined);
  const sizes: number[] = [];
  for await (const chunk of store.read(digest, 0, data.length)) sizes.push(chunk.length);
  assert.deepEqual(sizes, [1 << 20, 1 << 20, data.length - 2 * (1 << 20)]);
  assert.deepEqual(await collect(store.read(digest, 1000, 10)), data.subarray(1000, 1010));
  assert.deepEqual(await collect(store.read(digest, data.length, 0)), Buffer.alloc(0));
  await store.delete(digest);
  assert.equal(await store.info(digest), undefined);
  await assert.rejects(store.delete(digest), kind('not found'));
  await assert.rejects(collect(store.read(digest, 0, 1)), kind('not found'));
  await assert.rejects(store.info('sha256:nope'), kind('invalid argument', /invalid checksum digest length/));
  await assert.rejects(store.info('md5:abc'), kind('invalid argument', /unsupported digest algorithm/));
});

test('a small blob is read whole once and then served from memory until it is deleted; a large one is left to read()', async (t) => {
  const { store } = await open(t);
  const manifest = Buffer.from('{"schemaVersion":2,"layers":[]}');
  const writer = await store.writer('ns/1/small', 0);
  await writer.write(manifest);
  const { digest } = await writer.commit(0, undefined);
  assert.deepEqual(store.readSmall(digest, manifest.length, 0, manifest.length), manifest);
  // the bytes on disk change under the store (they never do for real): it answers from memory
  const path = store.layout.blobPath(digest);
  chmodSync(path, 0o644);
  writeFileSync(path, Buffer.alloc(manifest.length, 'x'));
  assert.deepEqual(store.readSmall(digest, manifest.length, 2, 12), manifest.subarray(2, 14));
  await store.delete(digest);
  assert.throws(() => store.readSmall(digest, manifest.length, 0, manifest.length), kind('not found', /content sha256:/));

  const large = Buffer.alloc(64 * 1024 + 1, 7);
  const big = await store.writer('ns/1/large', 0);
  await big.write(large);
  const committed = await big.commit(0, undefined);
  assert.equal(store.readSmall(committed.digest, large.length, 0, 10), undefined);
});

/** This process's descriptors that refer to `path` (through /proc/self/fd). */
function descriptorsOf(path: string): string[] {
  const dir = '/proc/self/fd';
  return readdirSync(dir).filter((fd) => {
    try {
      return readlinkSync(join(dir, fd)) === path;
    } catch {
      return false; // closed meanwhile
    }
  });
}

test('a writer whose fsync fails on close still closes its file and releases its ref', async (t) => {
  const { root, store } = await open(t);
  const writer = await store.writer('ns/1/sync-fails', 0);
  await writer.write(Buffer.from('partial'));
  const data = join(root, 'ingest', sha256Hex('ns/1/sync-fails'), 'data');
  assert.equal(descriptorsOf(data).length, 1);
  // an fsync that fails (EIO on a failing disk) must not leave the descriptor to garbage collection
  const handle = (writer as unknown as { handle: { sync(): Promise<void> } }).handle;
  handle.sync = () => Promise.reject(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }));
  await assert.rejects(writer.close(), /EIO/);
  assert.deepEqual(descriptorsOf(data), []);
  const again = await store.writer('ns/1/sync-fails', 0);
  assert.equal(again.status().offset, 7);
  await again.close();
  assert.deepEqual(descriptorsOf(data), []);
});
