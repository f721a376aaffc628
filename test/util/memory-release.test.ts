import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getHeapSpaceStatistics } from 'node:v8';
import { garbageCollector, youngGenerationShrinker } from '../../src/util/collect-garbage.js';
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

test('once allocation has gone quiet, the young generation a burst grew goes back', async () => {
  const youngGeneration = () => getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')!.space_size;
  // a burst whose allocations mostly survive a scavenge, as a start-up's do: V8 grows the young generation
  let kept: object[] = [];
  for (let i = 0; i < 3_000_000; i++) {
    kept.push({ i, name: `x${i}` });
    if (kept.length > 200_000) kept = [];
  }
  kept = [];
  const grown = youngGeneration();
  assert.ok(grown > 4 * 1024 * 1024, `the burst grew the young generation (${grown} bytes)`);
  // V8 shrinks it at a collection made while its recent allocation rate is low: a few quiet seconds
  for (const deadline = Date.now() + 30_000; youngGeneration() > 4 * 1024 * 1024 && Date.now() < deadline; ) {
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    youngGenerationShrinker()();
  }
  assert.ok(youngGeneration() <= 4 * 1024 * 1024, `young generation back to ${youngGeneration()} bytes from ${grown}`);
  const shrink = youngGenerationShrinker();
  assert.equal(shrink(), false, 'nothing to give back');
});

test('a full collection gives back the pages the garbage left half empty', () => {
  const oldSpace = () => getHeapSpaceStatistics().find((space) => space.space_name === 'old_space')!;
  const collect = garbageCollector(0);
  // objects that reach the old generation, then all but one in 20 dead: no page is left empty
  let all: object[] | undefined = [];
  for (let i = 0; i < 600_000; i++) all.push({ i, name: `x${i}` });
  collect();
  const survivors = all.filter((_, i) => i % 20 === 0);
  all = undefined;
  const before = oldSpace();
  collect();
  const after = oldSpace();
  assert.ok(before.space_size - after.space_size > 20 * 1024 * 1024, `old space ${before.space_size} -> ${after.space_size} bytes (${after.space_used_size} live)`);
  assert.equal(survivors.length, 30_000);
});
