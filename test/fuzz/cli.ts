// scripts/fuzz.sh: a fuzz run of any length against a private daemon.
// Usage: node dist/test/fuzz/cli.js [--seconds N] [--seed S] [--concurrency C] [--keep]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startFuzzDaemon } from './daemon.js';
import { runFuzz } from './fuzzer.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    seed: { type: 'string' },
    concurrency: { type: 'string', default: '4' },
    keep: { type: 'boolean', default: false },
  },
});
const seed = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed);
const dir = mkdtempSync(join(tmpdir(), 'ledgerd-fuzz-'));
const daemon = await startFuzzDaemon(dir);
console.log(`fuzz: seed ${seed}, ${values.seconds} s, daemon root ${dir}`);
const report = await runFuzz({
  address: daemon.address,
  seed,
  seconds: Number(values.seconds),
  concurrency: Number(values.concurrency),
  alive: daemon.alive,
  progress: (line) => console.log(`fuzz: ${line}`),
});
await daemon.stop();
console.log(JSON.stringify({ ...report, failures: report.failures.length }, null, 1));
for (const failure of report.failures) console.log(`FAILURE ${failure}`);
// the daemon's own complaints (warnings, stack traces) are worth reading even when nothing failed
const complaints = daemon.output().split('\n').filter((line) => line && !/^time="[^"]*" level=(info|debug)/.test(line));
if (complaints.length > 0) console.log(`daemon output besides info lines:\n${complaints.slice(-200).join('\n')}`);
if (!values.keep) rmSync(dir, { recursive: true, force: true });
process.exit(report.failures.length === 0 ? 0 : 1);
