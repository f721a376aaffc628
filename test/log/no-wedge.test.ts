// Nothing a client sends stops the log: each request that once wedged every later write, against a real daemon.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Metadata, status, type Client, type ServiceError } from '@grpc/grpc-js';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { packAny } from '../../src/api/proto.js';

const NS = 'containerd.services.namespaces.v1.Namespaces';
const EVENTS = 'containerd.services.events.v1.Events';
const IMAGES = 'containerd.services.images.v1.Images';
const ANSWER_WITHIN_MS = 15_000;

/** A unary call with a deadline: a wedged daemon fails the test instead of hanging it. */
function call(daemon: TestDaemon, service: string, method: string, request: unknown, namespace = 'default'): Promise<Record<string, unknown>> {
  const client = daemon.connect(namespace).client(service) as Client & Record<string, Function>;
  const metadata = new Metadata();
  metadata.set('containerd-namespace', namespace);
  return new Promise((resolve, reject) =>
    client[method]!.call(client, request, metadata, { deadline: Date.now() + ANSWER_WITHIN_MS }, (err: ServiceError | null, reply: Record<string, unknown>) =>
      err ? reject(err) : resolve(reply),
    ),
  );
}

const rejectsWith = (code: status, pattern: RegExp) => (err: unknown) => {
  const e = err as ServiceError;
  assert.equal(e.code, code, `code ${e.code}: ${e.details}`);
  assert.match(e.details, pattern);
  return true;
};

const forward = (seconds: string | number, nanos: number) => ({
  envelope: {
    timestamp: { seconds, nanos },
    namespace: 'default',
    topic: '/tasks/exit',
    event: packAny('containerd.events.TaskExit', { container_id: 'c1', exit_status: 3 }),
  },
});

test('a forwarded envelope with a timestamp out of range is refused, and every later write still answers', async (t) => {
  const daemon = await startTestDaemon(t);
  await assert.rejects(
    call(daemon, EVENTS, 'Forward', forward('9223372036854775807', 999_999_999)),
    rejectsWith(status.INVALID_ARGUMENT, /envelope\.timestamp: seconds \d+ after 9999-12-31/),
  );
  await assert.rejects(call(daemon, EVENTS, 'Forward', forward(0, 1_000_000_000)), rejectsWith(status.INVALID_ARGUMENT, /nanos .* not in range/));
  await assert.rejects(call(daemon, EVENTS, 'Forward', forward('-62135596801', 0)), rejectsWith(status.INVALID_ARGUMENT, /before 0001-01-01/));

  // the edges of the range are stored: a time past 2262 does not fit 64-bit nanoseconds
  await call(daemon, EVENTS, 'Forward', forward(253402300799, 999_999_999));
  await call(daemon, EVENTS, 'Forward', forward(-62135596800, 1));

  await call(daemon, NS, 'Create', { namespace: { name: 'after-the-bad-one', labels: {} } });
  const { namespaces } = (await call(daemon, NS, 'List', {})) as { namespaces: { name: string }[] };
  assert.ok(namespaces.some((n) => n.name === 'after-the-bad-one'));
});

test('an error about a 64 KiB name answers, with the name cut short', async (t) => {
  const daemon = await startTestDaemon(t);
  const name = 'n'.repeat(64 * 1024);
  await assert.rejects(call(daemon, IMAGES, 'Get', { name }), (err: unknown) => {
    const e = err as ServiceError;
    assert.equal(e.code, status.NOT_FOUND, e.details);
    assert.ok(e.details.length < 1024, `message of ${e.details.length} characters`);
    assert.match(e.details, /n{256}…\(65536 bytes\)/);
    return true;
  });
  await assert.rejects(
    call(daemon, NS, 'Create', { namespace: { name, labels: {} } }),
    rejectsWith(status.INVALID_ARGUMENT, /greater than maximum length/),
  );
  await assert.rejects(
    call(daemon, IMAGES, 'Create', { image: { name: 'ok', labels: { [name]: 'v' }, target: { media_type: 'x', digest: `sha256:${'0'.repeat(64)}`, size: 1 } } }),
    rejectsWith(status.INVALID_ARGUMENT, /label key and value greater than maximum size/),
  );
  await call(daemon, NS, 'Create', { namespace: { name: 'still-writable', labels: {} } });
});

test('requests cancelled or past a 1 ms deadline while writes are in flight leave the daemon writable', async (t) => {
  const daemon = await startTestDaemon(t);
  const client = daemon.connect().client(NS) as Client & Record<string, Function>;
  const metadata = new Metadata();
  metadata.set('containerd-namespace', 'default');
  const calls = Array.from({ length: 200 }, (_, i) =>
    new Promise<void>((resolve) => {
      const request = { namespace: { name: `burst-${i}`, labels: { i: String(i) } } };
      const options = i % 2 === 0 ? { deadline: Date.now() + 1 } : {};
      const pending = client.Create!.call(client, request, metadata, options, () => resolve());
      if (i % 2 === 1) setImmediate(() => pending.cancel());
    }),
  );
  await Promise.all(calls);
  await call(daemon, NS, 'Create', { namespace: { name: 'after-the-burst', labels: {} } });
  await call(daemon, NS, 'Update', { namespace: { name: 'after-the-burst', labels: { a: 'b' } }, update_mask: { paths: ['labels.a'] } });
  await call(daemon, NS, 'Delete', { name: 'after-the-burst' });
});

test('an upload cancelled mid-stream releases its ref: the next writer of that ref is not told it is locked', async (t) => {
  const daemon = await startTestDaemon(t);
  const c = daemon.connect();
  const CONTENT = 'containerd.services.content.v1.Content';
  for (let attempt = 0; attempt < 2; attempt++) {
    const stream = c.duplex<Record<string, unknown>, Record<string, unknown>>(CONTENT, 'Write');
    const answered = new Promise<void>((resolve) => stream.once('data', () => resolve()));
    stream.on('error', () => undefined);
    stream.write({ action: 'WRITE', ref: 'cancelled-upload', offset: 0, data: Buffer.from('some bytes') });
    await answered;
    stream.cancel();
  }
  const stream = c.duplex<Record<string, unknown>, Record<string, unknown>>(CONTENT, 'Write');
  const reply = await new Promise<Record<string, unknown>>((resolve, reject) => {
    stream.once('data', resolve);
    stream.once('error', reject);
    stream.write({ action: 'STAT', ref: 'cancelled-upload' });
  });
  assert.equal(Number(reply.offset), 'some bytes'.length, 'the upload goes on where it stopped');
  stream.end();
});
