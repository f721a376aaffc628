/**
 * The runc shim's output copy (copyToEnd in src/shims/runc-shim/process-io.ts): a process's
 * output is only "copied" once its destination has flushed it, so closing the destination
 * right after (Delete) loses nothing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Readable, Writable } from 'node:stream';
import { copyToEnd } from '../../src/shims/runc-shim/process-io.js';

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
