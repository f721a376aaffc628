// The content store contract: one suite, run against every way the store is configured
// (contract.test.ts), as containerd's content/testsuite is. It drives ContentCommands, the
// store as a namespace sees it, over a real event log and a real ContentStore on disk, and
// applies List's filters with the content service's own adaptors.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { EventLog } from '../../src/log/index.js';
import { ProjectionSet, contentProjection } from '../../src/projections/index.js';
import { ContentCommands, type ContentOptions } from '../../src/commands/content.js';
import { ContentStore } from '../../src/content/index.js';
import { parseFilters } from '../../src/filters/index.js';
import { infoAdaptor, statusAdaptor } from '../../src/services/content.js';
import { LedgerError } from '../../src/util/errdefs.js';
import { tempDir } from '../helpers/tmp.js';

export interface ContentContractTarget {
  /** Names the configuration in test titles: "shared", "isolated". */
  readonly name: string;
  readonly options: ContentOptions;
}

const NS = 'contract';
const digestOf = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

const kind = (k: string, pattern?: RegExp) => (err: unknown) => {
  assert.ok(err instanceof LedgerError, `not a LedgerError: ${String(err)}`);
  assert.equal(err.kind, k, err.message);
  if (pattern) assert.match(err.message, pattern);
  return true;
};

async function open(t: TestContext, target: ContentContractTarget) {
  const dir = tempDir(t);
  const log = EventLog.open({ dir: join(dir, 'log') });
  const projections = new ProjectionSet(log);
  const view = projections.add(contentProjection);
  const store = await ContentStore.open(join(dir, 'content'));
  projections.start();
  t.after(async () => {
    await projections.stop();
    await log.close();
  });
  return new ContentCommands({ log, projections }, view, store, target.options);
}

async function write(content: ContentCommands, ref: string, data: string, labels?: Record<string, string>): Promise<string> {
  const writer = await content.writer(NS, { ref, total: data.length, expected: digestOf(data) }, undefined, {});
  try {
    await writer.write(Buffer.from(data));
    return await writer.commit(data.length, digestOf(data), labels, {});
  } finally {
    await writer.close();
  }
}

async function readAll(chunks: AsyncIterable<Buffer>): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return Buffer.concat(parts).toString();
}

export function contentStoreContract(target: ContentContractTarget): void {
  const name = (title: string) => `content contract (${target.name}): ${title}`;

  test(name('a writer commits with the expected digest and size; Info and a read return them'), async (t) => {
    const content = await open(t, target);
    const digest = await write(content, 'w1', 'hello content');
    assert.equal(digest, digestOf('hello content'));
    const info = content.info(NS, digest);
    assert.deepEqual([info.digest, info.size, info.labels], [digest, 13, {}]);
    assert.equal(await readAll(content.read(NS, digest, 0, 13)), 'hello content');
    assert.deepEqual(await content.listStatuses(NS), [], 'the commit ended the ingest');
    await assert.rejects(content.writer(NS, { ref: 'w2', expected: digest }, undefined, {}), kind('already exists', /^content sha256:/));
  });

  test(name('a commit with a wrong size or digest fails FailedPrecondition and stores nothing'), async (t) => {
    const content = await open(t, target);
    let writer = await content.writer(NS, { ref: 'bad' }, undefined, {});
    await writer.write(Buffer.from('0123456789'));
    await assert.rejects(writer.commit(11, undefined, undefined, {}), kind('failed precondition', /^"bad" failed size validation: 10 != 11$/));
    writer = await content.writer(NS, { ref: 'bad' }, undefined, {});
    const wrong = `sha256:${'0'.repeat(64)}`;
    await assert.rejects(
      writer.commit(10, wrong, undefined, {}),
      kind('failed precondition', new RegExp(`^unexpected commit digest ${digestOf('0123456789')}, expected ${wrong}$`)),
    );
    await writer.close();
    assert.deepEqual(content.list(NS), []);
    assert.equal((await content.status(NS, 'bad')).offset, 10, 'the ingest stays to resume or abort');
    await content.abort(NS, 'bad', undefined, {});
    await assert.rejects(content.status(NS, 'bad'), kind('not found', /^reference bad$/));
  });

  test(name('an ingest resumes at its offset'), async (t) => {
    const content = await open(t, target);
    const data = 'first half|second half';
    let writer = await content.writer(NS, { ref: 'resume', total: data.length }, undefined, {});
    await writer.write(Buffer.from(data.slice(0, 11)));
    await writer.close();
    const status = await content.status(NS, 'resume');
    assert.deepEqual([status.ref, status.offset, status.total], ['resume', 11, data.length]);
    writer = await content.writer(NS, { ref: 'resume', total: data.length }, undefined, {});
    assert.equal(writer.status().offset, 11);
    assert.equal(writer.digest(), digestOf(data.slice(0, 11)));
    await writer.write(Buffer.from(data.slice(11)));
    const digest = await writer.commit(data.length, digestOf(data), undefined, {});
    await writer.close();
    assert.equal(await readAll(content.read(NS, digest, 0, data.length)), data);
  });

  test(name('Update sets and removes labels by path; no path replaces them all; other fields are refused'), async (t) => {
    const content = await open(t, target);
    const digest = await write(content, 'labels', 'labelled', { a: '1', b: '2' });
    assert.deepEqual(content.info(NS, digest).labels, { a: '1', b: '2' });
    let info = await content.update(NS, { digest, labels: { b: '', c: '3' } }, ['labels.b', 'labels.c'], {});
    assert.deepEqual(info.labels, { a: '1', c: '3' });
    assert.ok(info.updatedAt >= info.createdAt);
    info = await content.update(NS, { digest, labels: { z: '26' } }, [], {});
    assert.deepEqual(info.labels, { z: '26' });
    await assert.rejects(content.update(NS, { digest, labels: {} }, ['size'], {}), kind('invalid argument', /cannot update "size" field/));
    await assert.rejects(content.update(NS, { digest: digestOf('absent'), labels: {} }, [], {}), kind('not found'));
    assert.deepEqual(content.info(NS, digest).labels, { z: '26' }, 'a refused update changed nothing');
  });

  test(name('Walk (List) and ListStatuses with filters'), async (t) => {
    const content = await open(t, target);
    const a = await write(content, 'a', 'blob a', { kind: 'layer' });
    const b = await write(content, 'b', 'blob b', { kind: 'config' });
    const c = await write(content, 'c', 'blob c');
    const listed = (...filters: string[]) => {
      const filter = parseFilters(filters);
      return content.list(NS).filter((blob) => filter.match(infoAdaptor(blob))).map((blob) => blob.digest).sort();
    };
    assert.deepEqual(listed(), [a, b, c].sort());
    assert.deepEqual(listed('labels.kind==layer'), [a]);
    assert.deepEqual(listed('labels.kind'), [a, b].sort());
    assert.deepEqual(listed('labels.kind==layer', 'labels.kind==config'), [a, b].sort(), 'filters are ORed');
    assert.deepEqual(listed(`digest==${c}`), [c]);
    assert.deepEqual(content.list('other'), [], 'another namespace sees none of them');

    for (const ref of ['up-1', 'up-2', 'down-1']) {
      const writer = await content.writer(NS, { ref }, undefined, {});
      await writer.write(Buffer.from(ref));
      await writer.close();
    }
    const statuses = async (...filters: string[]) => {
      const filter = parseFilters(filters);
      return (await content.listStatuses(NS)).filter((s) => filter.match(statusAdaptor(s))).map((s) => s.ref).sort();
    };
    assert.deepEqual(await statuses(), ['down-1', 'up-1', 'up-2']);
    assert.deepEqual(await statuses('ref~=^up-'), ['up-1', 'up-2']);
    assert.deepEqual(await statuses('ref==down-1'), ['down-1']);
  });

  test(name('Delete hides the blob from the namespace; a second Delete is NotFound'), async (t) => {
    const content = await open(t, target);
    const digest = await write(content, 'del', 'to be deleted');
    await content.delete(NS, digest, undefined, {});
    assert.equal(content.exists(NS, digest), false);
    assert.throws(() => content.info(NS, digest), kind('not found', /^content digest sha256:/));
    assert.throws(() => content.read(NS, digest, 0, 1), kind('not found'));
    await assert.rejects(content.delete(NS, digest, undefined, {}), kind('not found'));
    assert.deepEqual(content.list(NS), []);
  });

  test(name('a reader returns exactly the range asked for, at any offset'), async (t) => {
    const content = await open(t, target);
    const data = Array.from({ length: 300 }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
    const digest = await write(content, 'ranges', data);
    for (const [offset, size] of [[0, 300], [0, 1], [1, 10], [150, 150], [299, 1], [300, 0]] as const) {
      assert.equal(await readAll(content.read(NS, digest, offset, size)), data.slice(offset, offset + size), `offset ${offset} size ${size}`);
    }
  });

  test(name('two writers of one ref: the first holds it, the second gets Unavailable "locked" until it closes'), async (t) => {
    const content = await open(t, target);
    const [first, second] = await Promise.allSettled([
      content.writer(NS, { ref: 'contended' }, undefined, {}),
      content.writer(NS, { ref: 'contended' }, undefined, {}),
    ]);
    const won = [first, second].filter((r) => r.status === 'fulfilled');
    const lost = [first, second].filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(won.length, 1, 'exactly one writer wins');
    assert.equal(lost.length, 1);
    kind('unavailable', /^ref contract\/1\/contended locked for .* \(since .* UTC\)$/)(lost[0]!.reason);
    const winner = (won[0] as PromiseFulfilledResult<Awaited<ReturnType<ContentCommands['writer']>>>).value;
    await winner.write(Buffer.from('winner'));
    await winner.close();
    const again = await content.writer(NS, { ref: 'contended' }, undefined, {});
    assert.equal(again.status().offset, 6, 'the ref is free again once the winner closed');
    const digest = await again.commit(6, digestOf('winner'), undefined, {});
    await again.close();
    assert.equal(await readAll(content.read(NS, digest, 0, 6)), 'winner');
  });
}
