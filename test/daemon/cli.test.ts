import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync, writeFileSync, truncateSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { LEDGERCTL, LEDGERD, startTestDaemon } from '../helpers/daemon.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);
const NS = 'containerd.services.namespaces.v1.Namespaces';

test('ledgerd config default prints a version 2 config that loads back', async (t) => {
  const { stdout } = await run(process.execPath, [LEDGERD, 'config', 'default']);
  const config = parse(stdout) as Record<string, any>;
  assert.equal(config.version, 2);
  assert.equal(config.root, '/var/lib/ledgerd');
  assert.equal(config.grpc.address, '/run/ledgerd/ledgerd.sock');
  assert.equal(config.plugins['io.ledgerd.projection.v1.projections'].checkpoint_interval, 10000);
  const dir = tempDir(t);
  writeFileSync(join(dir, 'config.toml'), stdout);
  const dumped = await run(process.execPath, [LEDGERD, '-c', join(dir, 'config.toml'), '--root', join(dir, 'r'), 'config', 'dump']);
  assert.match(dumped.stdout, new RegExp(`root = "${join(dir, 'r')}"`));
});

test('a bad config file stops start-up with a message naming the key and the rule', async (t) => {
  const dir = tempDir(t);
  const cases: [string, RegExp][] = [
    ['version = 2\nroot = 5\n', /"root" must be a string/],
    ['version = 2\nbogus = true\n', /unknown key "bogus"/],
    ['root = "/x"\n', /version 2 config files only/],
    ['version = 2\ndisabled_plugins = ["cri"]\n', /disabled_plugins entry "cri": must be a full plugin URI/],
    ['version = 2\n[grpc\n', /config\.toml/],
  ];
  for (const [text, message] of cases) {
    writeFileSync(join(dir, 'config.toml'), text);
    await assert.rejects(run(process.execPath, [LEDGERD, '-c', join(dir, 'config.toml'), '--root', join(dir, 'r'), '--state', join(dir, 's')]), (err: { stderr: string; code: number }) => {
      assert.equal(err.code, 1);
      assert.match(err.stderr, message);
      return true;
    });
  }
});

test('disabled plugins are left out; a required plugin that fails stops start-up', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'config.toml'), 'version = 2\ndisabled_plugins = ["io.containerd.grpc.v1.version"]\n');
  const daemon = await startTestDaemon(t, { args: ['-c', join(dir, 'config.toml')] });
  const reply = await daemon.connect().unary<{ plugins: { id: string }[] }>('containerd.services.introspection.v1.Introspection', 'Plugins', { filters: [] });
  assert.ok(!reply.plugins.some((p) => p.id === 'version'));
  await assert.rejects(daemon.connect().unary('containerd.services.version.v1.Version', 'Version', {}), /UNIMPLEMENTED|not implement/i);

  writeFileSync(join(dir, 'bad.toml'), 'version = 2\nrequired_plugins = ["io.containerd.grpc.v1.nothere"]\n');
  await assert.rejects(run(process.execPath, [LEDGERD, '-c', join(dir, 'bad.toml'), '--root', join(dir, 'r2'), '--state', join(dir, 's2'), '-a', join(dir, 'x.sock')]), (err: { stderr: string }) =>
    /required plugin \[io\.containerd\.grpc\.v1\.nothere\] not included/.test(err.stderr),
  );
});

/** The config the CRI test kit writes (write-config.sh), which real containerd 1.6 reads too. */
function criKitConfig(dir: string): string {
  return `version = 2
root = "${dir}/root"
state = "${dir}/state"
[grpc]
  address = "${dir}/ledgerd.sock"
[ttrpc]
  address = "${dir}/ledgerd.sock.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.6"
  enable_selinux = false
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${dir}/cni-bin"
    conf_dir = "${dir}/cni-conf"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "${dir}/certs.d"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
`;
}

const containerdDefault = () => run('containerd', ['config', 'default']).then((r) => r.stdout, () => undefined);

test('a containerd 1.6 config starts ledgerd as it is, with one warning naming what ledgerd does not act on', async (t) => {
  const dir = tempDir(t);
  const files: [string, string][] = [['cri-kit.toml', criKitConfig(join(dir, 'kit'))]];
  const stock = await containerdDefault();
  if (stock) files.push(['containerd-default.toml', stock]);
  for (const [name, text] of files) {
    writeFileSync(join(dir, name), text);
    const daemon = await startTestDaemon(t, { dir: join(dir, name + '.d'), args: ['-c', join(dir, name)] });
    const warnings = daemon.output().split('\n').filter((line) => line.includes('level=warn'));
    assert.equal(warnings.length, 1, `${name}: ${daemon.output()}`);
    assert.match(warnings[0]!, /containerd settings that ledgerd reads but does not act on: .*ttrpc\.address/);
    await daemon.stop();
  }
  assert.ok(stock !== undefined || !process.env.CI, 'containerd is installed in CI (scripts/install.sh)');

  writeFileSync(join(dir, 'typo.toml'), criKitConfig(join(dir, 'typo')).replace('sandbox_image', 'sandbox_imag'));
  await assert.rejects(run(process.execPath, [LEDGERD, '-c', join(dir, 'typo.toml')]), (err: { stderr: string }) =>
    /unknown setting plugins\."io\.containerd\.grpc\.v1\.cri"\.sandbox_imag: neither ledgerd nor containerd 1\.6 has it/.test(err.stderr),
  );
});

function damage(file: string, marker: string): void {
  const bytes = readFileSync(file);
  // LMDB is copy-on-write: stale page copies may hold the marker too, so damage every copy
  for (let at = bytes.indexOf(marker); at >= 0; at = bytes.indexOf(marker, at + 1)) bytes[at + 3] ^= 0x55;
  writeFileSync(file, bytes);
}

const verify = (daemon: { root: string; state: string }) =>
  run(process.execPath, [LEDGERD, '--root', daemon.root, '--state', daemon.state, 'verify']).catch((err: { stdout: string; code: number }) => err);

test('damage anywhere in the log is reported: at start-up, in the background check, and by verify', async (t) => {
  const daemon = await startTestDaemon(t);
  const c = daemon.connect();
  for (let i = 0; i < 30; i++) await c.unary(NS, 'Create', { namespace: { name: `damaged-marker-${String(i).padStart(3, '0')}` } });
  assert.match(daemon.output(), /event log verified/);
  assert.equal(await daemon.stop(), 0);
  const file = join(daemon.root, 'log', 'events.mdb');

  // a record before the checkpoint: start-up does not read it, the background check finds it
  damage(file, 'damaged-marker-004');
  let report = await verify(daemon);
  assert.equal((report as { code?: number }).code, 1);
  assert.match(report.stdout, /problem: event log corrupt: record 5 fails its checksum/);
  assert.match(report.stdout, /CORRUPT: 29 records, head 30/);
  const restarted = await daemon.restart();
  for (let i = 0; i < 50 && !/damaged/.test(restarted.output()); i++) await new Promise((r) => setTimeout(r, 100));
  assert.match(restarted.output(), /record 5 fails its checksum/);
  assert.deepEqual(await restarted.connect().unary('grpc.health.v1.Health', 'Check', { service: '' }), { status: 'NOT_SERVING' });
  assert.equal(await restarted.stop(), 0);

  // the newest record: start-up refuses to go on
  damage(file, 'damaged-marker-029');
  await assert.rejects(daemon.restart(), /record 30 fails its checksum/);
  report = await verify(daemon);
  assert.match(report.stdout, /record 30 fails its checksum/);

  truncateSync(file, Math.floor(statSync(file).size / 3));
  await assert.rejects(daemon.restart(), /truncated/);
});

test('ledgerctl log show, head, verify and events --from', async (t) => {
  const daemon = await startTestDaemon(t);
  const c = daemon.connect();
  await c.unary(NS, 'Create', { namespace: { name: 'ctl-a' } });
  await c.unary(NS, 'Delete', { name: 'ctl-a' });
  const ctl = (...args: string[]) => run(process.execPath, [LEDGERCTL, '-a', daemon.address, ...args]).then((r) => r.stdout);
  const lines = (await ctl('log', 'show')).trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((r) => [r.seq, r.type, r.topic, r.namespace]), [
    [1, 'NamespaceCreated', '/namespaces/create', 'ctl-a'],
    [2, 'NamespaceDeleted', '/namespaces/delete', 'ctl-a'],
  ]);
  assert.equal(lines[0].meta.requestNamespace, 'default');
  assert.equal((await ctl('log', 'show', '--from', '2')).trim().split('\n').length, 1);
  assert.equal((await ctl('log', 'show', '--filter', 'type==NamespaceCreated')).trim().split('\n').length, 1);
  assert.equal((await ctl('log', 'head')).trim(), '2');
  assert.match(await ctl('log', 'verify'), /^ok: 2 records, head 2$/m);
  await assert.rejects(ctl('log', 'show', '--filter', 'type=='), /expected value or quoted/);
});

test('metrics.address serves Prometheus metrics on /v1/metrics', async (t) => {
  const dir = tempDir(t);
  const metricsSocket = join(dir, 'metrics.sock');
  writeFileSync(join(dir, 'config.toml'), `version = 2\n[metrics]\naddress = "${metricsSocket}"\n`);
  const daemon = await startTestDaemon(t, { args: ['-c', join(dir, 'config.toml')] });
  await daemon.connect().unary(NS, 'Create', { namespace: { name: 'measured' } });
  const { request } = await import('node:http');
  const body = await new Promise<string>((resolve, reject) => {
    request({ socketPath: metricsSocket, path: '/v1/metrics' }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve(text));
    })
      .on('error', reject)
      .end();
  });
  assert.match(body, /^ledgerd_log_appended_events_total 1$/m);
  assert.match(body, /^ledgerd_log_head_seq 1$/m);
  assert.match(body, /^ledgerd_projection_lag_events\{projection="namespaces"\} 0$/m);
  assert.match(body, /^ledgerd_event_subscribers 0$/m);
});
