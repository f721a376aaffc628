/**
 * The runc shim's output copy (src/shims/runc-shim/output-copy.ts): a process's output is only
 * "copied" once its destination has flushed it, so closing the destination right after (Delete)
 * loses nothing; and it is only "delivered" once the client has read it out of the FIFO.
 */
import assert from 'node:assert/strict';
import { constants, openSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Readable, Writable } from 'node:stream';
import { mkfifo, openFifoWriter, pipeSocket } from '../../src/util/fifo.js';
import { pipe, unreadBytes } from '../../src/shims/runc-shim/syscalls.js';
import { until } from '../helpers/until.js';
import { tempDir } from '../helpers/tmp.js';
import { OutputCopy, unreadInFifo, untilDelivered } from '../../src/shims/runc-shim/output-copy.js';

/** A copy from a stream that has no descriptor of its own. */
const copyToEnd = (from: Readable, to: Writable, finish: () => void) => new OutputCopy(from, () => 0, to, finish).done;

/** A destination whose writes complete later, as a file stream's do on the thread pool. */
function slowSink(delayMs: number) {
  const written: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      setTimeout(() => (written.push(chunk.toString()), callback()), delayMs);
    },
  });
  return { sink, written };
}

test('a copy that ends its destination resolves after the destination has flushed every chunk', async () => {
  const { sink, written } = slowSink(20);
  await copyToEnd(Readable.from(['out-line\n', 'more\n', 'last\n']), sink, () => sink.end());
  assert.equal(written.join(''), 'out-line\nmore\nlast\n');
  assert.ok(sink.writableFinished);
  sink.destroy();
});

test('two copies into one destination (file:// stdout and stderr): the one that ends it waits for both outputs', async () => {
  const { sink, written } = slowSink(10);
  let users = 2;
  const release = () => --users === 0 && sink.end();
  await Promise.all([
    copyToEnd(Readable.from(['out-line\n']), sink, release),
    copyToEnd(Readable.from(['err-line\n']), sink, release),
  ]);
  sink.destroy();
  assert.deepEqual(written.sort(), ['err-line\n', 'out-line\n']);
});

test('a copy whose destination fails still resolves', async () => {
  const sink = new Writable({ write: (_chunk, _encoding, callback) => callback(new Error('EPIPE')) });
  sink.on('error', () => {});
  await copyToEnd(Readable.from(['x']), sink, () => sink.end());
  assert.ok(sink.destroyed);
});

/** A pipe whose write end we fill, read by an OutputCopy into a FIFO whose client reads when told. */
function pipeIntoFifo(t: TestContext) {
  const fifo = join(tempDir(t), 'out');
  mkfifo(fifo, 0o600);
  const writer = openFifoWriter(fifo);
  const [r, w] = pipe();
  const source = pipeSocket(w, 'write');
  const from = pipeSocket(r, 'read');
  const copy = new OutputCopy(from, () => (from.destroyed ? 0 : unreadBytes(r)), writer.stream, () => writer.stream.end(), unreadInFifo(writer));
  let received = 0;
  const client = new Socket({ fd: openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK), readable: true, writable: false });
  client.pause();
  client.on('data', (chunk: Buffer) => (received += chunk.length));
  t.after(() => {
    client.destroy();
    source.destroy();
    writer.stream.destroy();
    writer.closeKeepAlive();
  });
  return { source, copy, client, writer, received: () => received };
}

test('output is delivered only once the client has read all of it out of the FIFO', async (t) => {
  const { source, copy, client, writer, received } = pipeIntoFifo(t);
  const total = 300_000; // more than a pipe and a FIFO hold together
  source.end(Buffer.alloc(total, 'x'));
  await until('the FIFO is full and the rest waits in the pipe', () => unreadInFifo(writer)() > 0 && copy.undelivered() > unreadInFifo(writer)());
  let receivedWhenDelivered = -1;
  const delivered = untilDelivered([copy], { stallMs: 60_000, maxMs: 60_000 }).then((ok) => {
    receivedWhenDelivered = received();
    return ok;
  });
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(receivedWhenDelivered, -1, 'not delivered while the client reads nothing');
  client.resume();
  assert.equal(await delivered, true);
  assert.equal(receivedWhenDelivered, total, 'every byte was in the client\'s hands when delivery was reported');
  await copy.done;
});

test('a client that stops reading: delivery gives up once nothing moved for stallMs', async (t) => {
  const { source, copy } = pipeIntoFifo(t);
  source.end(Buffer.alloc(100_000, 'y'));
  const started = Date.now();
  assert.equal(await untilDelivered([copy], { stallMs: 100, maxMs: 60_000 }), false);
  assert.ok(copy.undelivered() > 0);
  assert.ok(Date.now() - started >= 100);
});
