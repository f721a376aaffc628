import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { EventLog, verifyLog } from '../../src/log/index.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';

const appender = fileURLToPath(new URL('../fixtures/appender.js', import.meta.url));

test('every append acknowledged before a SIGKILL is there after reopening, gapless', async (t) => {
  const dir = tempDir(t);
  for (let round = 0; round < 3; round++) {
    const child = spawn(process.execPath, [appender, dir, '16'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let acked = 0;
    let buffered = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) acked = Math.max(acked, Number(line));
    });
    // killed while it appends: once it has acknowledged a few hundred (a condition, not a time: the machine may be busy)
    await until(`round ${round}: ${200 * (round + 1)} acknowledged appends`, () => acked >= 200 * (round + 1), 60_000);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    assert.ok(acked > 100, `round ${round}: the child acknowledged ${acked} appends`);

    const log = EventLog.open({ dir });
    try {
      assert.ok(log.head >= acked, `round ${round}: head ${log.head} covers every acknowledged seq (${acked})`);
      const report = verifyLog(log);
      assert.equal(report.ok, true, report.problems.join('\n'));
      assert.equal(report.records, log.head);
    } finally {
      await log.close();
    }
  }
});
