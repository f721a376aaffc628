import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SharedLock } from '../../src/util/shared-lock.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

test('shared holders overlap; an exclusive holder waits for them and holds back later shared ones', async () => {
  const lock = new SharedLock();
  const order: string[] = [];
  let releaseFirst!: () => void;
  const first = lock.runShared(async () => {
    order.push('shared 1 in');
    await new Promise<void>((resolve) => (releaseFirst = resolve));
    order.push('shared 1 out');
  });
  const second = lock.runShared(async () => void order.push('shared 2'));
  await tick();
  const exclusive = lock.runExclusive(async () => {
    order.push('exclusive in');
    await tick();
    order.push('exclusive out');
  });
  const third = lock.runShared(async () => void order.push('shared 3'));
  await tick();
  assert.deepEqual(order, ['shared 1 in', 'shared 2']);
  releaseFirst();
  await Promise.all([first, second, exclusive, third]);
  assert.deepEqual(order, ['shared 1 in', 'shared 2', 'shared 1 out', 'exclusive in', 'exclusive out', 'shared 3']);
});

test('a failing holder releases the lock', async () => {
  const lock = new SharedLock();
  await assert.rejects(lock.runExclusive(async () => Promise.reject(new Error('boom'))), /boom/);
  assert.equal(await lock.runShared(async () => 'free'), 'free');
});
