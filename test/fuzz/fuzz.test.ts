// The short fuzz run of CI; scripts/fuzz.sh --seconds N --seed S runs a long one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestDaemon } from '../helpers/daemon.js';
import { fuzzedMethods, runFuzz } from './fuzzer.js';

const SECONDS = Number(process.env.LEDGERD_FUZZ_SECONDS ?? 30);
const SEED = Number(process.env.LEDGERD_FUZZ_SEED ?? 13);

test('the fuzzer knows every method of every service the daemon serves', () => {
  const methods = fuzzedMethods().map((m) => m.short);
  for (const expected of ['Namespaces/Create', 'Content/Write', 'Events/Forward', 'Tasks/Create', 'Log/Read', 'RuntimeService/RunPodSandbox', 'Snapshots/Prepare']) {
    assert.ok(methods.includes(expected), `${expected} is fuzzed`);
  }
});

test(`${SECONDS} s of seeded gRPC fuzzing (seed ${SEED}): proper statuses only, writable throughout, refused calls leave no record`, async (t) => {
  const daemon = await startTestDaemon(t);
  const alive = () => daemon.process.exitCode === null && daemon.process.signalCode === null;
  const report = await runFuzz({ address: daemon.address, seed: SEED, seconds: SECONDS, alive });
  t.diagnostic(`${report.calls} calls, ${report.probes} probes: ${JSON.stringify(report.byCode)}`);
  assert.ok(alive(), `the daemon is running:\n${daemon.output().slice(-5000)}`);
  assert.ok(report.calls > 100 && report.probes > 1, `${report.calls} calls, ${report.probes} probes`);
  assert.deepEqual(report.failures, [], `seed ${SEED}; rerun with scripts/fuzz.sh --seconds ${SECONDS} --seed ${SEED}`);
});
