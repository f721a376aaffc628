import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const MALLOC_TRIM = new URL('../../src/util/malloc-trim.js', import.meta.url).href;
const KOFFI = createRequire(import.meta.url).resolve('koffi');

/** malloc's arenas (malloc_stats lists them) in a fresh process whose 8 worker threads allocate at once, the arenas limited first or not. */
function arenasAfterThreadedWork(limit: boolean): number {
  const script = `
    import { Worker } from 'node:worker_threads';
    import { createRequire } from 'node:module';
    const { limitMallocArenas } = await import(${JSON.stringify(MALLOC_TRIM)});
    if (${limit}) limitMallocArenas();
    const work = "const { parentPort } = require('node:worker_threads'); let k = []; for (let i = 0; i < 100000; i++) { k.push(Buffer.allocUnsafeSlow(200 + (i % 50))); if (k.length > 1000) k = []; } parentPort.postMessage('done');";
    await Promise.all(Array.from({ length: 8 }, () => new Promise((resolve) => new Worker(work, { eval: true, execArgv: [] }).once('message', resolve))));
    createRequire(import.meta.url)(${JSON.stringify(KOFFI)}).load('libc.so.6').func('void malloc_stats(void)')();
  `;
  const env = { ...process.env };
  delete env.MALLOC_ARENA_MAX;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env, encoding: 'utf8' });
  assert.equal(child.status, 0, child.stderr);
  return child.stderr.split('\n').filter((line) => /^Arena \d+:/.test(line)).length;
}

test("the daemon's threads share malloc's arenas instead of each making its own", () => {
  const limited = arenasAfterThreadedWork(true);
  // the main thread's, the shared one, and any a helper thread made before the limit was set
  assert.ok(limited <= 4, `${limited} arenas with the limit`);
  const unlimited = arenasAfterThreadedWork(false);
  assert.ok(unlimited > limited, `${unlimited} arenas without the limit, ${limited} with`);
});
