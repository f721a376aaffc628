// Retention on a real daemon: history past the policy leaves LMDB for archive segments, and
// ledgerctl log show, the Log service's verify and `ledgerd verify` still read all of it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { LEDGERCTL, LEDGERD, startTestDaemon } from '../helpers/daemon.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';

const run = promisify(execFile);
const NS = 'containerd.services.namespaces.v1.Namespaces';

test('retention_age archives history past the oldest checkpoint; log show and verify still read it', async (t) => {
  const dir = tempDir(t);
  writeFileSync(
    join(dir, 'config.toml'),
    'version = 2\n[plugins."io.ledgerd.log.v1.lmdb"]\n  retention_age = "1ms"\n[plugins."io.ledgerd.projection.v1.projections"]\n  checkpoint_interval = 10\n',
  );
  const daemon = await startTestDaemon(t, { dir: join(dir, 'd'), args: ['-c', join(dir, 'config.toml')] });
  const c = daemon.connect();
  for (let i = 0; i < 30; i++) {
    await c.unary(NS, 'Create', { namespace: { name: `kept-${i}` } });
    await c.unary(NS, 'Delete', { name: `kept-${i}` });
  }
  assert.equal(await daemon.stop(), 0);
  // at start-up the checkpoints are at 60: everything before the head goes to the archive
  const restarted = await daemon.restart();
  await until('retention at start-up', () => /log retention: 59 records archived/.test(restarted.output()), 30_000);
  assert.equal(readdirSync(join(daemon.root, 'log', 'archive')).filter((name) => name.endsWith('.seg')).length, 1);

  const ctl = (...args: string[]) => run(process.execPath, [LEDGERCTL, '-a', restarted.address, ...args]).then((r) => r.stdout);
  const lines = (await ctl('log', 'show', '--from', '1')).trim().split('\n').map((l) => JSON.parse(l) as { seq: number; type: string; namespace: string });
  assert.equal(lines.length, 60);
  assert.deepEqual([lines[0]!.seq, lines[0]!.type, lines[0]!.namespace], [1, 'NamespaceCreated', 'kept-0']);
  assert.deepEqual(lines.map((l) => l.seq), Array.from({ length: 60 }, (_, i) => i + 1));
  assert.match(await ctl('log', 'verify'), /^ok: 60 records, head 60$/m);
  await restarted.connect().unary(NS, 'Create', { namespace: { name: 'after' } });
  assert.equal(await restarted.stop(), 0);
  const { stdout } = await run(process.execPath, [LEDGERD, '--root', daemon.root, '--state', daemon.state, 'verify']);
  assert.match(stdout, /ok: 61 records, head 61/);
});
