import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EventLog } from '../../src/log/index.js';
import { releaseMemoryEvery } from '../../src/daemon/memory-release.js';

/** ~1 s of CPU whose leftovers (~12 MB of objects) live long enough to reach the old generation; a weak reference to one of them. */
function burstLeavingGarbage(): WeakRef<object> {
  let leftovers: object[] = [];
  const started = Date.now();
  for (let i = 0; Date.now() - started < 1000 || leftovers.length < 200_000; i++) {
    leftovers.push({ i, name: `leftover ${i}` });
    if (leftovers.length > 200_000) leftovers = leftovers.slice(100_000);
  }
  return new WeakRef(leftovers[0]!);
}

test('when a burst of work ends, the garbage it left in the old generation is collected within a second or two', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ledgerd-memory-release-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'data.mdb'), '');
  // the 10 s tick kept out of the way: only the look for a burst's end can collect here
  const releaser = releaseMemoryEvery({ path: join(dir, 'data.mdb') } as EventLog, 600_000, (m) => assert.fail(m));
  t.after(() => releaser.stop());
  await sleep(600); // one quiet look first: what the test's start-up left does not count
  // V8 may run a full collection of its own during a burst (more likely on a busy machine): then
  // there is nothing left for the release to collect, and the burst is made again
  let leftover = burstLeavingGarbage();
  await sleep(0);
  for (let tries = 1; leftover.deref() === undefined && tries < 5; tries++) {
    leftover = burstLeavingGarbage();
    await sleep(0);
  }
  assert.notEqual(leftover.deref(), undefined, 'a burst whose garbage outlived it, in 5 tries');
  for (const deadline = Date.now() + 4_000; leftover.deref() !== undefined && Date.now() < deadline; ) await sleep(100);
  assert.equal(leftover.deref(), undefined, 'collected once the daemon went quiet');
});
