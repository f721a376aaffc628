// scripts/torture.sh: `node dist/test/torture/main.js --rounds N --seed S [--clients C]`.
// Prints a line per round and exits 1 if any round had a finding.
import { parseArgs } from 'node:util';
import { torture } from './torture.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '10' },
    seed: { type: 'string', default: String(Date.now() % 2 ** 31) },
    clients: { type: 'string', default: '4' },
  },
});
const rounds = Number(values.rounds);
const seed = Number(values.seed);
const clients = Number(values.clients);
if (![rounds, seed, clients].every((n) => Number.isInteger(n) && n >= 0) || rounds < 1 || clients < 1) {
  process.stderr.write('usage: torture.sh --rounds N (>= 1) --seed S (an integer) [--clients C (>= 1)]\n');
  process.exit(2);
}
process.stdout.write(`torture: ${rounds} rounds, seed ${seed}, ${clients} clients\n`);
const started = Date.now();
const reports = await torture({ rounds, seed, clients, log: (line) => process.stdout.write(`${line}\n`) });
const failed = reports.filter((r) => r.findings.length > 0);
const acknowledged = reports.reduce((n, r) => n + r.acknowledged, 0);
const cut = reports.reduce((n, r) => n + r.cut, 0);
process.stdout.write(`torture: ${reports.length} rounds in ${((Date.now() - started) / 1000).toFixed(0)} s, ${acknowledged} acknowledged mutations, ${cut} cut by a kill, ${failed.length} rounds with findings (seed ${seed})\n`);
process.exit(failed.length > 0 ? 1 : 0);
