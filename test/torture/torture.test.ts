// A short crash torture for the suite (two rounds); scripts/torture.sh runs long ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { hasCtr } from '../helpers/ctr.js';
import { skipWithoutRegistry } from '../helpers/registry.js';
import { torture } from './torture.js';

const skip: string | false =
  !hasCtr ? 'ctr is not installed' : skipWithoutRegistry || (!existsSync('/usr/sbin/runc') && !existsSync('/usr/bin/runc') ? 'runc is not installed' : process.getuid?.() !== 0 && 'needs root');

test('crash torture, 2 rounds: acknowledged mutations survive SIGKILL, cut ones are all or nothing, nothing is left over', { skip, timeout: 300_000 }, async (t) => {
  const seed = Number(process.env.TORTURE_SEED ?? 13);
  const reports = await torture({ rounds: 2, seed, clients: 3, log: (line) => t.diagnostic(line) });
  assert.deepEqual(reports.flatMap((r) => r.findings.map((f) => `round ${r.round}: ${f}`)), [], `seed ${seed}`);
  assert.ok(reports.some((r) => r.acknowledged > 0), 'the clients got work done before the kills');
});
