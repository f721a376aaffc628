/**
 * The collector's own duration, which spaces its collections (containerd's pause_threshold
 * rule), is the metadata phase only: files deleted after the records (blobs, the directories of
 * removed snapshots) are waited for but not counted, as containerd times a collection.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { DEFAULT_GC_CONFIG, GarbageCollector } from '../../src/gc/collector.js';
import { EventLog } from '../../src/log/index.js';
import { ProjectionSet } from '../../src/projections/index.js';

const nothing = { namespaces: () => [], leases: () => [], images: () => [], containers: () => [], content: () => [], snapshots: () => [], ingests: () => [] };

/** A collector over an empty log, with `files` as its file phase; closed with the test. */
function collectorWith(t: TestContext, files: () => Promise<string[]>): GarbageCollector {
  const dir = mkdtempSync(join(tmpdir(), 'ledgerd-gc-'));
  const log = EventLog.open({ dir: join(dir, 'log') });
  const projections = new ProjectionSet(log);
  projections.start();
  t.after(async () => {
    projections.stop();
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return new GarbageCollector({ log, projections }, DEFAULT_GC_CONFIG, nothing, { lease: async () => {}, files });
}

test('a collection waits for its file deletions but does not count them in its duration', async (t) => {
  let filesDone = false;
  const collector = collectorWith(t, async () => {
    await new Promise((resolve) => setTimeout(resolve, 300));
    filesDone = true;
    return ['sha256:gone'];
  });
  const collection = await collector.collect();
  assert.ok(filesDone, 'the collection waited for its files');
  assert.deepEqual(collection.files, ['sha256:gone']);
  assert.ok(collection.ms < 300, `metadata phase ${collection.ms} ms`);
});

test('closing waits for a collection under way: the files of what it recorded deleted go before the daemon stops', async (t) => {
  // torture seed 13 round 17: a collection recorded a blob deleted, the daemon was stopped
  // (SIGTERM) before its file deletion ran, and the blob was left on disk with no record of it
  let filesDone = false;
  let filesStarted!: () => void;
  const started = new Promise<void>((resolve) => (filesStarted = resolve));
  const collector = collectorWith(t, async () => {
    filesStarted();
    await new Promise((resolve) => setTimeout(resolve, 100));
    filesDone = true;
    return [];
  });
  const collection = collector.collect();
  await started;
  await collector.close();
  assert.ok(filesDone, 'close waited for the file deletions');
  await collection;
});
