import { test } from 'node:test';
import assert from 'node:assert/strict';
import { garbageCollector } from '../../src/util/collect-garbage.js';
import { releaseFreedHeap } from '../../src/util/malloc-trim.js';

test('a full collection runs once the given slack of Buffer memory has piled up, and frees the dead Buffers', () => {
  const collect = garbageCollector(32 * 1024 * 1024);
  collect(); // the first call measures from nothing
  assert.equal(collect(), false, 'nothing piled up since');
  let kept: Buffer[] = [];
  for (let i = 0; i < 64; i++) kept.push(Buffer.alloc(1024 * 1024, i));
  const piled = process.memoryUsage().arrayBuffers;
  kept = [];
  assert.equal(collect(), true);
  assert.ok(process.memoryUsage().arrayBuffers < piled - 48 * 1024 * 1024, 'the 64 dead 1 MiB Buffers are gone');
  assert.equal(kept.length, 0);
  assert.equal(collect(), false);
});

test('malloc_trim hands the free pages of a burst of freed allocations back to the kernel', async () => {
  // 64 KiB Buffers come from malloc's arena; one kept in every 16 stops free() from shrinking it
  const live: Buffer[] = [];
  let dead: Buffer[] | undefined = [];
  for (let i = 0; i < 2048; i++) (i % 16 === 0 ? live : dead).push(Buffer.allocUnsafe(64 * 1024).fill(i));
  dead = undefined;
  const before = process.memoryUsage.rss();
  garbageCollector(0)();
  // V8 frees the backing stores on a sweeper task after the collection: trim until they are back
  let released = 0;
  for (const deadline = Date.now() + 10_000; released < 64 * 1024 * 1024 && Date.now() < deadline; ) {
    releaseFreedHeap();
    released = before - process.memoryUsage.rss();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.ok(released >= 64 * 1024 * 1024, `${released} bytes of the 120 MiB freed went back`);
  assert.equal(live.length, 128);
});
