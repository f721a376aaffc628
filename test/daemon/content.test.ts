import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { status, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { startTestDaemon } from '../helpers/daemon.js';
import { tempDir } from '../helpers/tmp.js';
import { runHarness, skipWithoutCtr, skipWithoutHarness } from '../helpers/ctr.js';
import { CONTENT, upload, WriteSession } from '../helpers/write-session.js';
import { decodeMessage } from '../../src/api/proto.js';
import { Connection } from '../../src/cli/grpc-client.js';

const digestOf = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const ROOT = { 'containerd.io/gc.root': 'test' };
const BLOBS = (root: string) => join(root, 'io.containerd.content.v1.content', 'blobs', 'sha256');
const INGESTS = (root: string) => join(root, 'io.containerd.content.v1.content', 'ingest');

const grpcError = (code: status, pattern?: RegExp) => (err: unknown) => {
  const e = err as ServiceError;
  assert.equal(e.code, code, `code ${e.code} (${e.details})`);
  if (pattern) assert.match(e.details, pattern);
  return true;
};

function all<T>(stream: ClientReadableStream<T>): Promise<T[]> {
  const got: T[] = [];
  return new Promise((resolve, reject) => {
    stream.on('data', (m: T) => got.push(m));
    stream.on('error', reject);
    stream.on('end', () => resolve(got));
  });
}

async function read(c: Connection, digest: string, offset = 0, size = 0) {
  return all(c.stream<{ offset: number; data: Buffer }>(CONTENT, 'Read', { digest, offset, size }));
}

type Info = { digest: string; size: number; labels: Record<string, string>; created_at: { seconds: number }; updated_at: { seconds: number } };

test('Write: STAT, WRITE, COMMIT as the Go client sends them; Info and Read give the blob back', async (t) => {
  const daemon = await startTestDaemon(t);
  const c = daemon.connect('cns');
  const data = randomBytes(2.5 * 1024 * 1024);
  const session = new WriteSession(c);
  const stat = await session.send({ ref: 'layer-1', total: data.length, expected: digestOf(data) }); // action STAT is the default
  assert.equal(stat!.action, 'STAT');
  assert.equal(stat!.offset, 0);
  assert.equal(stat!.total, data.length);
  assert.equal(stat!.digest, 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  assert.ok(stat!.started_at.seconds > 1_600_000_000);
  const w1 = await session.send({ action: 'WRITE', offset: 0, data: data.subarray(0, 1 << 20) });
  assert.deepEqual([w1!.action, w1!.offset, w1!.digest], ['WRITE', 1 << 20, digestOf(data.subarray(0, 1 << 20))]);
  assert.deepEqual([w1!.started_at, w1!.total], [stat!.started_at, data.length], 'what STAT filled in stays, as containerd reuses its response');
  const w2 = await session.send({ action: 'WRITE', offset: 1 << 20, data: data.subarray(1 << 20) });
  assert.equal(w2!.offset, data.length);
  const commit = await session.send({ action: 'COMMIT', offset: data.length, total: data.length, expected: digestOf(data), labels: ROOT });
  assert.deepEqual([commit!.action, commit!.offset, commit!.digest], ['COMMIT', data.length, digestOf(data)]);
  assert.equal(await session.close(), undefined, 'the call ends OK');

  const { info } = await c.unary<{ info: Info }>(CONTENT, 'Info', { digest: digestOf(data) });
  assert.equal(info.size, data.length);
  assert.deepEqual(info.labels, ROOT);
  assert.ok(info.created_at.seconds > 1_600_000_000);
  const whole = await read(c, digestOf(data));
  assert.deepEqual(whole.map((m) => [m.offset, m.data.length]), [[0, 1 << 20], [1 << 20, 1 << 20], [2 << 20, data.length - (2 << 20)]]);
  assert.deepEqual(Buffer.concat(whole.map((m) => m.data)), data);
  // offsets count from the requested offset, as containerd sends them
  const part = await read(c, digestOf(data), 100, 50);
  assert.deepEqual(part.map((m) => m.offset), [0]);
  assert.deepEqual(part[0]!.data, data.subarray(100, 150));
  assert.deepEqual(Buffer.concat((await read(c, digestOf(data), -5, 3)).map((m) => m.data)), data.subarray(0, 3));
  assert.deepEqual(Buffer.concat((await read(c, digestOf(data), data.length - 2, 100)).map((m) => m.data)), data.subarray(-2));
  assert.deepEqual(await read(c, digestOf(data), data.length), []);
  await assert.rejects(read(c, digestOf(data), data.length + 1), grpcError(status.OUT_OF_RANGE, new RegExp(`^read past object length ${data.length} bytes$`)));
  await assert.rejects(read(c, 'sha256:abc'), grpcError(status.INVALID_ARGUMENT, /^sha256:abc: invalid checksum digest length$/));
  await assert.rejects(daemon.connect('other').unary(CONTENT, 'Info', { digest: digestOf(data) }), grpcError(status.NOT_FOUND, /^content digest sha256:[0-9a-f]{64}: not found$/));
  await assert.rejects(read(daemon.connect('other'), digestOf(data)), grpcError(status.NOT_FOUND));
  assert.deepEqual(readdirSync(BLOBS(daemon.root)), [digestOf(data).slice(7)]);
  assert.deepEqual(readdirSync(INGESTS(daemon.root)), []);

  // a one-message session: COMMIT with the data; only STAT fills the times, so they are Go's zero
  const oneShot = new WriteSession(c);
  const done = await oneShot.send({ action: 'COMMIT', ref: 'one-shot', data: Buffer.from('tiny'), total: 4, labels: ROOT });
  assert.deepEqual([done!.offset, done!.digest, done!.started_at.seconds], [4, digestOf('tiny'), -62135596800]);
  assert.equal(await oneShot.done, undefined);

  // a blob of a manifest's size is answered from memory after its first read, by the same rules
  const tiny = async (offset?: number, size?: number) => (await read(c, digestOf('tiny'), offset, size)).map((m) => [m.offset, m.data.toString()]);
  for (let i = 0; i < 2; i++) {
    assert.deepEqual(await tiny(), [[0, 'tiny']]);
    assert.deepEqual(await tiny(1, 2), [[0, 'in']]);
    assert.deepEqual(await tiny(2, 100), [[0, 'ny']]);
    assert.deepEqual(await tiny(-3, 1), [[0, 't']]);
    assert.deepEqual(await tiny(4), []);
    await assert.rejects(tiny(5), grpcError(status.OUT_OF_RANGE, /^read past object length 4 bytes$/));
  }
  await assert.rejects(read(daemon.connect('other'), digestOf('tiny')), grpcError(status.NOT_FOUND));
});

test('Write errors: no ref, no namespace, wrong offset, bad commit; a restart at offset 0; AlreadyExists', async (t) => {
  const daemon = await startTestDaemon(t);
  const c = daemon.connect('errs');
  let session = new WriteSession(c);
  await assert.rejects(session.send({ action: 'WRITE', data: Buffer.from('x') }), grpcError(status.INVALID_ARGUMENT, /^first message must have a reference$/));
  const anonymous = new Connection(daemon.address, undefined);
  t.after(() => anonymous.close());
  session = new WriteSession(anonymous);
  await assert.rejects(session.send({ ref: 'r' }), grpcError(status.FAILED_PRECONDITION, /^namespace is required: failed precondition$/));

  session = new WriteSession(c);
  await session.send({ ref: 'r', action: 'WRITE', data: Buffer.from('12345') });
  await assert.rejects(session.send({ action: 'WRITE', offset: 3, data: Buffer.from('x') }), grpcError(status.OUT_OF_RANGE, /^write @3 must occur at current offset 5$/));

  // offset 0 with data written restarts the upload
  session = new WriteSession(c);
  assert.equal((await session.send({ ref: 'r' }))!.offset, 5, 'resumed');
  const restarted = await session.send({ action: 'WRITE', offset: 0, data: Buffer.from('abc') });
  assert.equal(restarted!.offset, 3);
  assert.equal(restarted!.digest, digestOf('abc'));
  await assert.rejects(
    session.send({ action: 'COMMIT', offset: 3, total: 4 }),
    grpcError(status.FAILED_PRECONDITION, /^"r" failed size validation: 3 != 4: failed precondition$/),
  );
  session = new WriteSession(c);
  await session.send({ ref: 'r' });
  await assert.rejects(
    session.send({ action: 'COMMIT', offset: 3, expected: digestOf('abd') }),
    grpcError(status.FAILED_PRECONDITION, new RegExp(`^unexpected commit digest ${digestOf('abc')}, expected ${digestOf('abd')}: failed precondition$`)),
  );
  assert.deepEqual(readdirSync(join(BLOBS(daemon.root), '..')), [], 'nothing was stored');

  await upload(c, 'r', Buffer.from('abc'), { expected: digestOf('abc'), labels: ROOT });
  session = new WriteSession(c);
  await assert.rejects(session.send({ ref: 'again', expected: digestOf('abc') }), grpcError(status.ALREADY_EXISTS, new RegExp(`^content ${digestOf('abc')}: already exists$`)));

  // an expected digest that appears while a session is open aborts that session's ingest
  const slow = new WriteSession(c);
  await slow.send({ ref: 'slow', action: 'WRITE', data: Buffer.from('ab') });
  await upload(c, 'fast', Buffer.from('abz'), { labels: ROOT });
  await assert.rejects(
    slow.send({ action: 'WRITE', offset: 2, data: Buffer.from('z'), expected: digestOf('abz') }),
    grpcError(status.ALREADY_EXISTS, new RegExp(`^blob with expected digest ${digestOf('abz')} exists$`)),
  );
  await assert.rejects(c.unary(CONTENT, 'Status', { ref: 'slow' }), grpcError(status.NOT_FOUND));
});

test('one writer per ref: a second gets Unavailable; a broken stream resumes where it stopped', async (t) => {
  const daemon = await startTestDaemon(t);
  const c = daemon.connect('lockns');
  const data = randomBytes(300_000);
  const first = new WriteSession(c);
  await first.send({ ref: 'held', total: data.length });
  await first.send({ action: 'WRITE', offset: 0, data: data.subarray(0, 100_000) });
  const second = new WriteSession(c);
  await assert.rejects(second.send({ ref: 'held' }), grpcError(status.UNAVAILABLE, /^ref lockns\/1\/held locked for \S+ \(since .+\): unavailable$/));
  first.cancel(); // the client goes away mid-upload
  await first.done;

  let resumed: WriteSession | undefined;
  let stat;
  for (let i = 0; i < 50 && !stat; i++) {
    resumed = new WriteSession(c);
    stat = await resumed.send({ ref: 'held', total: data.length }).catch((err: ServiceError) => {
      if (err.code !== status.UNAVAILABLE) throw err; // the daemon may not have seen the cancel yet
      return undefined;
    });
  }
  assert.equal(stat!.offset, 100_000);
  assert.equal(stat!.digest, digestOf(data.subarray(0, 100_000)));
  const { statuses } = await c.unary<{ statuses: { ref: string; offset: number; total: number }[] }>(CONTENT, 'ListStatuses', { filters: [''] });
  assert.deepEqual(statuses.map((s) => [s.ref, s.offset, s.total]), [['held', 100_000, data.length]]);
  await resumed!.send({ action: 'WRITE', offset: 100_000, data: data.subarray(100_000) });
  const commit = await resumed!.send({ action: 'COMMIT', offset: data.length, total: data.length, expected: digestOf(data), labels: ROOT });
  assert.equal(commit!.digest, digestOf(data));
  await resumed!.close();
});

test('Status, ListStatuses with filters, Abort', async (t) => {
  const daemon = await startTestDaemon(t);
  const c = daemon.connect('st');
  for (const ref of ['layer-a', 'layer-b', 'config-c']) {
    const s = new WriteSession(c);
    await s.send({ ref, total: 10 });
    await s.send({ action: 'WRITE', data: Buffer.from(ref) });
    await s.close();
  }
  const { status: one } = await c.unary<{ status: { ref: string; offset: number; total: number; expected: string; started_at: { seconds: number } } }>(CONTENT, 'Status', { ref: 'layer-a' });
  assert.deepEqual([one.ref, one.offset, one.total, one.expected], ['layer-a', 7, 10, '']);
  assert.ok(one.started_at.seconds > 1_600_000_000);
  await assert.rejects(c.unary(CONTENT, 'Status', { ref: 'x' }), grpcError(status.NOT_FOUND, /^could not get status for ref "x": reference x: not found$/));
  const list = async (filters: string[]) =>
    (await c.unary<{ statuses: { ref: string }[] }>(CONTENT, 'ListStatuses', { filters })).statuses.map((s) => s.ref).sort();
  assert.deepEqual(await list(['']), ['config-c', 'layer-a', 'layer-b']);
  assert.deepEqual(await list(['ref~=layer-']), ['layer-a', 'layer-b']);
  assert.deepEqual(await list(['ref==config-c']), ['config-c']);
  assert.deepEqual(await daemon.connect('elsewhere').unary<{ statuses: unknown[] }>(CONTENT, 'ListStatuses', { filters: [] }).then((r) => r.statuses), []);
  await assert.rejects(list(['ref==']), grpcError(status.INVALID_ARGUMENT));
  await c.unary(CONTENT, 'Abort', { ref: 'layer-a' });
  assert.deepEqual(await list([]), ['config-c', 'layer-b']);
  await assert.rejects(c.unary(CONTENT, 'Abort', { ref: 'nope' }), grpcError(status.NOT_FOUND, /^reference nope: not found$/));
  assert.equal(readdirSync(INGESTS(daemon.root)).length, 2);
});

test('List in blocks of at most 100 with filters; Update masks; Delete publishes /content/delete; namespaces with blobs stay', async (t) => {
  const daemon = await startTestDaemon(t);
  const c = daemon.connect('listns');
  const events = c.stream<{ topic: string; namespace: string; event: { type_url: string; value: Buffer } }>('containerd.services.events.v1.Events', 'Subscribe', {
    filters: ['topic=="/content/delete"'],
  });
  t.after(() => events.cancel());
  const received = new Promise<{ topic: string; namespace: string; event: { type_url: string; value: Buffer } }>((resolve) => events.once('data', resolve));
  events.on('error', () => undefined);

  const digests: string[] = [];
  for (let i = 0; i < 130; i++) {
    const data = Buffer.from(`blob ${i}`);
    digests.push(digestOf(data));
    await upload(c, `r${i}`, data, { labels: { ...ROOT, parity: i % 2 ? 'odd' : 'even' } });
  }
  const blocks = await all(c.stream<{ info: Info[] }>(CONTENT, 'List', { filters: [] }));
  assert.deepEqual(blocks.map((b) => b.info.length), [100, 30]);
  assert.deepEqual(blocks.flatMap((b) => b.info.map((i) => i.digest)).sort(), [...digests].sort());
  const odd = await all(c.stream<{ info: Info[] }>(CONTENT, 'List', { filters: ['labels.parity==odd'] }));
  assert.equal(odd.flatMap((b) => b.info).length, 65);
  const byDigest = await all(c.stream<{ info: Info[] }>(CONTENT, 'List', { filters: [`digest==${digests[7]}`] }));
  assert.deepEqual(byDigest.flatMap((b) => b.info.map((i) => i.digest)), [digests[7]]);
  assert.deepEqual(await all(daemon.connect('emptyns').stream(CONTENT, 'List', { filters: [] })), []);

  const digest = digests[0]!;
  assert.deepEqual((await c.unary<{ info: Info }>(CONTENT, 'Info', { digest })).info.labels, { ...ROOT, parity: 'even' });
  const { info } = await c.unary<{ info: Info }>(CONTENT, 'Update', { info: { digest, labels: { extra: 'x' } }, update_mask: { paths: ['labels.extra'] } });
  assert.deepEqual(info.labels, { ...ROOT, parity: 'even', extra: 'x' });
  const replaced = await c.unary<{ info: Info }>(CONTENT, 'Update', { info: { digest, labels: { ...ROOT, only: 'this' } } });
  assert.deepEqual(replaced.info.labels, { ...ROOT, only: 'this' });
  assert.deepEqual((await c.unary<{ info: Info }>(CONTENT, 'Info', { digest })).info, replaced.info, 'Info answers the blob as it is after the Update');
  await assert.rejects(c.unary(CONTENT, 'Update', { info: { digest }, update_mask: { paths: ['size'] } }), grpcError(status.INVALID_ARGUMENT, /^cannot update "size" field on content info/));
  await assert.rejects(c.unary(CONTENT, 'Update', { info: { digest: 'nope' } }), grpcError(status.INVALID_ARGUMENT, /^"nope" failed validation$/));
  await assert.rejects(c.unary(CONTENT, 'Info', { digest: 'sha256:abc' }), grpcError(status.INVALID_ARGUMENT, /^"sha256:abc" failed validation$/));

  const NS = 'containerd.services.namespaces.v1.Namespaces';
  const { namespaces } = await c.unary<{ namespaces: { name: string }[] }>(NS, 'List', {});
  assert.ok(namespaces.some((n) => n.name === 'listns'), 'a commit brings the namespace into existence');
  await assert.rejects(c.unary(NS, 'Delete', { name: 'listns' }), grpcError(status.FAILED_PRECONDITION, /must be empty, but it still has blobs/));

  await c.unary(CONTENT, 'Delete', { digest });
  await assert.rejects(c.unary(CONTENT, 'Delete', { digest }), grpcError(status.NOT_FOUND, /^content digest sha256:[0-9a-f]{64}: not found$/));
  await assert.rejects(c.unary(CONTENT, 'Delete', { digest: 'sha256:zz' }), grpcError(status.INVALID_ARGUMENT, /^invalid checksum digest length$/));
  const envelope = await received;
  assert.equal(envelope.topic, '/content/delete');
  assert.equal(envelope.namespace, 'listns');
  assert.equal(envelope.event.type_url, 'containerd.events.ContentDelete');
  assert.deepEqual(decodeMessage('containerd.events.ContentDelete', envelope.event.value), { digest });
});

test('the shared policy across namespaces, the lease header, and a restart that keeps it all', async (t) => {
  const daemon = await startTestDaemon(t);
  const a = daemon.connect('nsa');
  const b = daemon.connect('nsb');
  const data = randomBytes(50_000);
  await upload(a, 'one', data, { expected: digestOf(data), labels: ROOT });
  // nsb declares the digest: the blob is linked without sending bytes
  const session = new WriteSession(b);
  const stat = await session.send({ ref: 'two', total: data.length, expected: digestOf(data) });
  assert.equal(stat!.offset, data.length);
  const commit = await session.send({ action: 'COMMIT', offset: data.length, total: data.length, expected: digestOf(data), labels: ROOT });
  assert.equal(commit!.digest, digestOf(data));
  await session.close();
  assert.deepEqual(Buffer.concat((await read(b, digestOf(data))).map((m) => m.data)), data);

  await assert.rejects(upload(a, 'leased', Buffer.from('x'), { extra: { 'containerd-lease': 'no-such-lease' } }), grpcError(status.NOT_FOUND, /^lease does not exist: not found$/));
  await a.unary('containerd.services.leases.v1.Leases', 'Create', { id: 'mylease', labels: {} });
  await upload(a, 'leased', Buffer.from('under a lease'), { extra: { 'containerd-lease': 'mylease' } });
  const half = new WriteSession(a);
  await half.send({ ref: 'half', total: 10 });
  await half.send({ action: 'WRITE', data: Buffer.from('12345') });
  await half.close();

  assert.equal(await daemon.stop(), 0, daemon.output());
  const again = await daemon.restart();
  const a2 = again.connect('nsa');
  const { info } = await a2.unary<{ info: Info }>(CONTENT, 'Info', { digest: digestOf(data) });
  assert.deepEqual([info.size, info.labels], [data.length, ROOT]);
  await a2.unary(CONTENT, 'Info', { digest: digestOf('under a lease') });
  await again.connect('nsb').unary(CONTENT, 'Info', { digest: digestOf(data) });
  const resumed = await upload(a2, 'half', Buffer.from('1234567890'), { labels: ROOT });
  assert.equal(resumed.digest, digestOf('1234567890'));
});

test('the real ctr: content ingest, ls, get, label, active, rm; a wrong --expected-digest stores nothing', { skip: skipWithoutCtr }, async (t) => {
  const daemon = await startTestDaemon(t);
  const data = randomBytes(300_000);
  const digest = digestOf(data);
  const file = join(tempDir(t), 'blob');
  writeFileSync(file, data);
  // stdin from a file, as `ctr ... < file`: ctr may stop reading early (the blob is already there)
  const ctr = (args: string[], stdin?: string) => {
    const fd = stdin ? openSync(stdin, 'r') : 'ignore';
    try {
      return execFileSync('ctr', ['--address', daemon.address, '-n', 'ctrns', ...args], { stdio: [fd, 'pipe', 'pipe'] }).toString();
    } finally {
      if (typeof fd === 'number') closeSync(fd);
    }
  };
  ctr(['content', 'ingest', '--expected-size', String(data.length), '--expected-digest', digest, 'ctr-ref'], file);
  assert.match(ctr(['content', 'ls']), new RegExp(`^${digest}\\s+300kB\\s+\\S.*\\s-\\s*$`, 'm'));
  assert.equal(ctr(['content', 'ls', '-q']).trim(), digest);
  assert.ok(execFileSync('ctr', ['--address', daemon.address, '-n', 'ctrns', 'content', 'get', digest], { maxBuffer: 1 << 24 }).equals(data));
  ctr(['content', 'label', digest, 'team=blue', 'containerd.io/gc.root=ctr']);
  const labelled = ctr(['content', 'ls']); // ctr prints labels in Go's map order
  assert.match(labelled, new RegExp(`^${digest}\\s.*containerd.io/gc.root=ctr`, 'm'));
  assert.match(labelled, new RegExp(`^${digest}\\s.*team=blue`, 'm'));
  ctr(['content', 'label', digest, 'team=']);
  assert.doesNotMatch(ctr(['content', 'ls']), /team=blue/);
  // ingesting it again is a no-op: the blob is already there
  ctr(['content', 'ingest', '--expected-digest', digest, 'ctr-ref-2'], file);

  const wrong = `sha256:${'0'.repeat(64)}`;
  assert.throws(
    () => ctr(['content', 'ingest', '--expected-digest', wrong, 'bad-ref'], file),
    (err: { stderr: Buffer }) => /unexpected commit digest sha256:[0-9a-f]{64}, expected sha256:0{64}: failed precondition/.test(err.stderr.toString()),
  );
  assert.deepEqual(readdirSync(BLOBS(daemon.root)), [digest.slice(7)], 'no blob was stored for the wrong digest');
  assert.match(ctr(['content', 'active']), /^bad-ref\s+300kB\s/m);
  assert.throws(() => ctr(['content', 'get', wrong]), (err: { stderr: Buffer }) => /not found/.test(err.stderr.toString()));

  ctr(['content', 'rm', digest]);
  assert.equal(ctr(['content', 'ls', '-q']).trim(), '');
  assert.throws(() => ctr(['content', 'get', digest]), (err: { stderr: Buffer }) => /content digest sha256:[0-9a-f]{64}: not found/.test(err.stderr.toString()));
});

test('the content steps of shared/harness/ctr-conformance.sh pass', { skip: skipWithoutHarness }, async (t) => {
  const daemon = await startTestDaemon(t);
  const { out, code } = await runHarness(daemon.address, '^content\\.');
  assert.match(out, /^5 passed, 0 failed$/m, out);
  assert.equal(code, 0);
});
