// What a daemon restart must not break for the CRI: a running container's output goes on into
// its log file, with no line lost while the daemon was away.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { criTestbed, podConfig, skipCri } from '../helpers/cri-testbed.js';
import { until } from '../helpers/until.js';

test('a running container keeps writing its log across a daemon restart, no line lost', { skip: skipCri, timeout: 120_000 }, async (t) => {
  const bed = await criTestbed(t, { tag: 'rst' });
  const config = podConfig(bed, 'ticker');
  await bed.withPod(config, async (pod) => {
    await bed.cri.images('PullImage', { image: { image: 'busybox:1.0' } });
    const { container_id: cid } = await bed.cri.runtime('CreateContainer', {
      pod_sandbox_id: pod,
      sandbox_config: config,
      config: { metadata: { name: 'ticker' }, image: { image: 'busybox:1.0' }, command: ['sh', '-c', 'i=0; while true; do echo tick $i; echo err $i >&2; i=$((i+1)); sleep 1; done'], log_path: 'ticker.log' },
    });
    await bed.cri.runtime('StartContainer', { container_id: cid });
    const logFile = join(config.log_directory, 'ticker.log');
    const ticks = () => (existsSync(logFile) ? [...readFileSync(logFile, 'utf8').matchAll(/ stdout F tick (\d+)\n/g)].map((m) => Number(m[1])) : []);
    await until('the first ticks in the log', () => ticks().length >= 2, 20_000);
    await bed.restart();
    const before = ticks().length;
    const after = await until('ticks after the restart', () => ticks().length >= before + 3 && ticks(), 30_000);
    assert.deepEqual(after, after.map((_, i) => i), 'every tick once, in order');
    const errs = [...readFileSync(logFile, 'utf8').matchAll(/ stderr F err (\d+)\n/g)].map((m) => Number(m[1]));
    assert.deepEqual(errs.slice(0, after.length - 1), after.slice(0, -1), 'stderr too');
  });
});
