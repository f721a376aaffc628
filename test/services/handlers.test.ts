import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { garbageCollector } from '../../src/util/collect-garbage.js';
import { EventEmitter } from 'node:events';
import { messageReader, writeWithBackpressure } from '../../src/services/handlers.js';

/** A server stream whose transport buffer is full: write() answers false, as grpc-js does then. */
function fullStream(state: { cancelled?: boolean; destroyed?: boolean }) {
  return Object.assign(new EventEmitter(), { cancelled: false, destroyed: false, writableEnded: false, write: () => false }, state);
}

// a handler waiting here for a call already cancelled never reached its finally: Content.Write and
// Content.Read left their file to garbage collection ('Closing file descriptor N on garbage collection')
// and Content.Write its ref locked
test('a write on a call already cancelled or destroyed does not wait for a drain that never comes', async () => {
  for (const state of [{ cancelled: true }, { destroyed: true }]) {
    const call = fullStream(state);
    await writeWithBackpressure(call as never, { data: 'x' });
    assert.equal(call.listenerCount('drain'), 0);
  }
});

test('a full stream waits for drain, and a close or error while waiting ends the wait too', async () => {
  for (const event of ['drain', 'cancelled', 'close', 'error']) {
    const call = fullStream({});
    let done = false;
    const write = writeWithBackpressure(call as never, { data: 'x' }).then(() => (done = true));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(done, false, `resolved before ${event}`);
    call.emit(event, event === 'error' ? new Error('gone') : undefined);
    await write;
    for (const name of ['drain', 'cancelled', 'close', 'error', 'finish']) assert.equal(call.listenerCount(name), 0, `${name} listener left after ${event}`);
  }
});

test('messageReader keeps no message it has returned (a long upload does not pile up in memory)', async () => {
  const call = new Readable({ objectMode: true, read() {} }) as Readable & { cancelled: boolean };
  call.cancelled = false;
  const read = messageReader(call as never);
  const seen: WeakRef<object>[] = [];
  for (let i = 0; i < 20; i++) {
    call.push({ data: Buffer.alloc(1024 * 1024, i) });
    const message = await read();
    seen.push(new WeakRef(message as object));
  }
  await new Promise((resolve) => setImmediate(resolve));
  garbageCollector(0)();
  // all but the last one read (which the stream's iterator may still hold) are gone
  assert.deepEqual(seen.slice(0, -1).filter((ref) => ref.deref() !== undefined).length, 0);
  // a cancel while nobody reads still fails the next read
  call.cancelled = true;
  call.emit('cancelled');
  await assert.rejects(read(), /cancelled/);
});
