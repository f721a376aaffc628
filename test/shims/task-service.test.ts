/**
 * The runc shim's TaskService (src/shims/runc-shim/task-service.ts) deciding when its shim
 * ends: after a Shutdown with nothing left to serve, never while a packed container it was
 * promised (warm shims, warm.ts) has not come yet, and not twice.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { encode } from '../../src/shims/wire/protocol/protowire.js';
import * as api from '../../src/shims/wire/protocol/task.js';
import { Reaper } from '../../src/shims/runc-shim/reaper.js';
import { TaskService } from '../../src/shims/runc-shim/task-service.js';

function service() {
  const ends: number[] = [];
  const sizes: number[] = [];
  const tasks = new TaskService('ns', new Reaper(), { publish: () => {} }, () => ends.push(Date.now()), (size) => sizes.push(size));
  const shutdown = () => tasks.handlers().Shutdown!(new Uint8Array(0));
  return { tasks, shutdown, ends, sizes };
}

test('a Shutdown with no container ends the shim once; a shim that is ending takes no promise', async () => {
  const { tasks, shutdown, ends } = service();
  await shutdown();
  await shutdown();
  await sleep(10);
  assert.equal(ends.length, 1);
  assert.equal(tasks.expect('late', 1000), false, 'no container is promised to an ending shim');
  assert.equal(tasks.size, 0);
});

test('a promised container keeps the shim through a Shutdown; the promise lapses, then the shim ends', async () => {
  const { tasks, shutdown, ends, sizes } = service();
  assert.equal(tasks.expect('packed', 50), true);
  assert.equal(tasks.size, 1);
  await shutdown();
  await sleep(10);
  assert.deepEqual(ends, [], 'the Shutdown of another container does not end it');
  await sleep(80);
  assert.equal(ends.length, 1, 'ended once the promise lapsed');
  assert.deepEqual(sizes, [1, 0]);
  tasks.close();
});

test('the Create of a promised container ends its promise, even when it fails; the next Shutdown ends the shim', async () => {
  const { tasks, shutdown, ends, sizes } = service();
  tasks.expect('other', 10_000);
  tasks.expect('packed', 10_000);
  await assert.rejects(tasks.handlers().Create!(encode(api.CreateTaskRequest, { id: 'packed' })), /bundle must not be empty/);
  assert.equal(tasks.size, 1, 'only the promise of the container created is gone');
  await shutdown();
  await sleep(10);
  assert.deepEqual(ends, [], '"other" is still to come');
  tasks.close();
  assert.equal(tasks.size, 0);
  await shutdown();
  await sleep(10);
  assert.equal(ends.length, 1);
  assert.deepEqual(sizes, [1, 2, 1]);
});
