// In a file of its own: the cap is process-wide, and the test needs a young generation no other
// test has grown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getHeapSpaceStatistics } from 'node:v8';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { capYoungGeneration } from '../../src/util/collect-garbage.js';

const youngGeneration = () => getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')!.space_size;

/**
 * Turns of allocation (~0.3 MiB each, as a busy daemon's) much of which survives a scavenge, which
 * is what makes V8 grow its young generation; the largest size seen.
 */
async function allocate(turns: number): Promise<number> {
  let kept: object[] = [];
  let largest = 0;
  for (let turn = 0; turn < turns; turn++) {
    for (let i = 0; i < 5_000; i++) {
      kept.push({ turn, i, name: `x${i}` });
      if (kept.length > 60_000) kept = [];
    }
    largest = Math.max(largest, youngGeneration());
    await nextTurn();
  }
  return largest;
}

test('a capped young generation stops growing at the cap; lifted, it grows past it', async () => {
  const cap = 4 * 1024 * 1024;
  assert.ok(youngGeneration() <= cap, `the test starts below the cap (${youngGeneration()} bytes)`);
  const lift = capYoungGeneration(cap);
  // the cap is looked at when V8 reports a collection, which on a busy machine can come after the
  // next scavenge: one doubling past the cap is the most it may reach
  const capped = await allocate(400);
  assert.ok(capped <= 2 * cap, `capped: at most ${2 * cap} bytes, saw ${capped}`);
  lift();
  const free = await allocate(400);
  assert.ok(free > 2 * cap, `uncapped, the same work grows it past the cap and one more doubling (${free} bytes)`);
});
