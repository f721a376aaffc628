import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { applyOverrides, ConfigError, defaultConfig, ignoredSettings, loadConfig } from '../src/plugin/config.js';
import { defaultConfigToml } from '../src/plugin/default-config.js';
import { PluginHost } from '../src/plugin/host.js';
import type { Registration } from '../src/plugin/registration.js';
import { LedgerError } from '../src/util/errdefs.js';
import { tempDir } from './helpers/tmp.js';

function hasContainerd(): boolean {
  try {
    execFileSync('containerd', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function write(dir: string, name: string, text: string): string {
  const path = join(dir, name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
  return path;
}

/** Loading `text` fails with a ConfigError whose message names the file and matches `pattern`. */
function rejects(t: TestContext, text: string, pattern: RegExp): void {
  const file = write(tempDir(t), 'config.toml', text);
  assert.throws(
    () => loadConfig(file),
    (err: Error) => {
      assert.ok(err instanceof ConfigError && err instanceof LedgerError && err.kind === 'invalid argument', String(err));
      assert.ok(err.message.startsWith(`${file}: `), err.message);
      assert.match(err.message, pattern);
      return true;
    },
  );
}

test('the defaults', () => {
  const config = defaultConfig();
  assert.equal(config.version, 2);
  assert.equal(config.root, '/var/lib/ledgerd');
  assert.equal(config.state, '/run/ledgerd');
  assert.equal(config.grpc.address, '/run/ledgerd/ledgerd.sock');
  assert.equal(config.grpc.max_recv_message_size, 16777216);
  assert.equal(config.grpc.max_send_message_size, 16777216);
  assert.equal(config.debug.level, 'info');
  assert.equal(config.metrics.address, '');
  assert.deepEqual(config.timeouts, {
    'io.containerd.timeout.bolt.open': '0s',
    'io.containerd.timeout.shim.cleanup': '5s',
    'io.containerd.timeout.shim.load': '5s',
    'io.containerd.timeout.shim.shutdown': '3s',
    'io.containerd.timeout.task.state': '2s',
  });
  assert.notEqual(defaultConfig().grpc, config.grpc, 'a fresh object each time');
});

test('a missing file: defaults when allowed, an error when the file was asked for', (t) => {
  const missing = join(tempDir(t), 'config.toml');
  assert.deepEqual(loadConfig(missing, { allowMissing: true }), defaultConfig());
  assert.throws(() => loadConfig(missing), { message: `${missing}: no such file` });
});

test('a version 2 file overrides the defaults it names and keeps the rest', (t) => {
  const file = write(
    tempDir(t),
    'config.toml',
    `version = 2
root = "/data/ledgerd"
disabled_plugins = ["io.containerd.snapshotter.v1.overlayfs"]
required_plugins = ["io.containerd.grpc.v1.version"]
oom_score = -999

[grpc]
  address = "/tmp/l.sock"
  gid = 1000

[debug]
  level = "debug"

[metrics]
  address = "127.0.0.1:1338"
  grpc_histogram = true

[timeouts]
  "io.containerd.timeout.shim.load" = "10s"

[plugins."io.containerd.gc.v1.scheduler"]
  pause_threshold = 0.05

[plugins."io.containerd.grpc.v1.cri".containerd]
  snapshotter = "native"
`,
  );
  const config = loadConfig(file);
  const expected = defaultConfig();
  Object.assign(expected, { root: '/data/ledgerd', oom_score: -999, imports: [file] });
  expected.disabled_plugins = ['io.containerd.snapshotter.v1.overlayfs'];
  expected.required_plugins = ['io.containerd.grpc.v1.version'];
  Object.assign(expected.grpc, { address: '/tmp/l.sock', gid: 1000 });
  expected.debug.level = 'debug';
  expected.metrics = { address: '127.0.0.1:1338', grpc_histogram: true };
  expected.timeouts['io.containerd.timeout.shim.load'] = '10s';
  expected.plugins = {
    'io.containerd.gc.v1.scheduler': { pause_threshold: 0.05 },
    'io.containerd.grpc.v1.cri': { containerd: { snapshotter: 'native' } },
  };
  assert.deepEqual(JSON.parse(JSON.stringify(config)), expected);
});

test('ledgerd reads version 2 only', (t) => {
  rejects(t, 'root = "/x"\n', /no version: ledgerd reads version 2 config files only; add `version = 2`/);
  rejects(t, 'version = 1\n[plugins.cri]\n', /version = 1: ledgerd reads version 2 config files only/);
  rejects(t, 'version = 3\n', /version = 3: ledgerd reads version 2 config files only/);
  rejects(t, 'version = "2"\n', /"version" must be an integer, got a string "2"/);
});

test('unknown keys are errors that name the key', (t) => {
  rejects(t, 'version = 2\nroots = "/x"\n', /unknown key "roots": neither ledgerd nor containerd 1\.6 has it/);
  rejects(t, 'version = 2\n[grpc]\nadress = "/x"\n', /unknown key "grpc\.adress"/);
  rejects(t, 'version = 2\n[ttrpc]\nadress = "/x"\n', /unknown key "ttrpc\.adress"/);
});

test('containerd settings ledgerd does not act on are read, type-checked and listed', (t) => {
  const dir = tempDir(t);
  const file = write(
    dir,
    'config.toml',
    'version = 2\nplugin_dir = ""\n[ttrpc]\naddress = "/t.sock"\n[grpc]\ntcp_tls_cert = "/c"\n[proxy_plugins.stargz]\ntype = "snapshot"\naddress = "/s.sock"\n',
  );
  assert.deepEqual(ignoredSettings(loadConfig(file)), ['plugin_dir', 'ttrpc.address', 'proxy_plugins', 'grpc.tcp_tls_cert']);
  assert.deepEqual(ignoredSettings(defaultConfig()), []);
  rejects(t, 'version = 2\n[ttrpc]\nuid = "0"\n', /"ttrpc\.uid" must be an integer, got a string "0"/);
  rejects(t, 'version = 2\nproxy_plugins = { stargz = 1 }\n', /"proxy_plugins" must be a table of tables/);
});

test("the output of `containerd config default` loads as it is", { skip: !hasContainerd() && 'no containerd binary' }, (t) => {
  const text = execFileSync('containerd', ['config', 'default'], { encoding: 'utf8' });
  const config = loadConfig(write(tempDir(t), 'config.toml', text));
  assert.equal(config.root, '/var/lib/containerd');
  assert.equal(config.debug.level, '');
  assert.ok(ignoredSettings(config).includes('stream_processors'));
});

test('values of the wrong type are errors that name the key and the type', (t) => {
  rejects(t, 'version = 2\nroot = 5\n', /"root" must be a string, got an integer 5/);
  rejects(t, 'version = 2\noom_score = 1.5\n', /"oom_score" must be an integer, got a float 1.5/);
  rejects(t, 'version = 2\ndisabled_plugins = "io.containerd.gc.v1.scheduler"\n', /"disabled_plugins" must be an array of strings/);
  rejects(t, 'version = 2\ngrpc = "x"\n', /"grpc" must be a table, got a string "x"/);
  rejects(t, 'version = 2\n[grpc]\nuid = "0"\n', /"grpc\.uid" must be an integer, got a string "0"/);
  rejects(t, 'version = 2\n[metrics]\ngrpc_histogram = "yes"\n', /"metrics\.grpc_histogram" must be a boolean/);
  rejects(t, 'version = 2\n[timeouts]\n"io.containerd.timeout.shim.load" = 5\n', /"timeouts" must be a table of durations/);
  rejects(t, 'version = 2\n[timeouts]\n"io.containerd.timeout.shim.load" = "5"\n', /timeouts\."io\.containerd\.timeout\.shim\.load" = "5": must be a duration such as "5s"/);
  rejects(t, 'version = 2\nplugins = 3\n', /"plugins" must be a table of plugin sections, got an integer 3/);
  rejects(t, 'version = 2\n[plugins]\n"io.containerd.gc.v1.scheduler" = 1\n', /plugins\."io\.containerd\.gc\.v1\.scheduler" must be a table/);
  rejects(t, 'version = 2\nroot = \n', /invalid TOML/);
});

test('plugin URIs need at least 4 dot-separated parts', (t) => {
  const rule = 'must be a full plugin URI (<type>.<id>, at least 4 dot-separated parts, as io.containerd.gc.v1.scheduler)';
  rejects(t, 'version = 2\ndisabled_plugins = ["cri"]\n', new RegExp(`disabled_plugins entry "cri": ${escape(rule)}$`));
  rejects(t, 'version = 2\nrequired_plugins = ["grpc.v1.cri"]\n', /required_plugins entry "grpc\.v1\.cri": must be a full plugin URI/);
  rejects(t, 'version = 2\n[plugins.cri]\nx = 1\n', /plugins section "cri": must be a full plugin URI/);
  // an unquoted URI is split by TOML into nested tables
  rejects(t, 'version = 2\n[plugins.io.containerd.gc.v1.scheduler]\nx = 1\n', /plugins section "io": must be a full plugin URI .*, quoted: \[plugins\."io\.containerd\.gc\.v1\.scheduler"\]$/);
});

test('imports: relative to the importing file, globs, merged in containerd\'s order', (t) => {
  const dir = tempDir(t);
  const main = write(
    dir,
    'config.toml',
    `version = 2
imports = ["conf.d/*.toml", "/nonexistent-dir/*.toml", "extra/net.toml"]
root = "/main/root"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs"]
[grpc]
  address = "/main.sock"
  uid = 7
[timeouts]
  "io.containerd.timeout.shim.load" = "1s"
[plugins."io.containerd.gc.v1.scheduler"]
  pause_threshold = 0.1
  deletion_threshold = 5
[plugins."io.containerd.snapshotter.v1.native"]
  root_path = "/main/native"
`,
  );
  // no version line: an imported fragment takes the importer's
  const a = write(
    dir,
    'conf.d/10-a.toml',
    `imports = ["../nested.toml"]
root = "/a/root"
disabled_plugins = ["io.containerd.snapshotter.v1.zfs"]
[grpc]
  uid = 8
[plugins."io.containerd.gc.v1.scheduler"]
  schedule_delay = "1s"
`,
  );
  const b = write(dir, 'conf.d/20-b.toml', 'version = 2\nstate = "/b/state"\n[timeouts]\n"io.containerd.timeout.task.state" = "9s"\n');
  write(dir, 'conf.d/ignored.conf', 'this is not toml');
  const net = write(dir, 'extra/net.toml', 'imports = ["../config.toml"]\n[metrics]\naddress = ":9000"\n');
  const nested = write(dir, 'nested.toml', 'root = "/nested/root"\n');

  const config = loadConfig(main);
  // breadth first, as containerd's queue: the file, its imports in order, then theirs
  assert.deepEqual(config.imports, [main, a, b, net, nested]);
  assert.equal(config.root, '/nested/root', 'scalars: the last file merged wins');
  assert.equal(config.state, '/b/state');
  assert.deepEqual(config.grpc, { ...defaultConfig().grpc, address: '/main.sock', uid: 8 }, 'tables merge key by key');
  assert.deepEqual(config.disabled_plugins, ['io.containerd.snapshotter.v1.btrfs', 'io.containerd.snapshotter.v1.zfs'], 'arrays append');
  assert.deepEqual(config.timeouts, {
    ...defaultConfig().timeouts,
    'io.containerd.timeout.shim.load': '1s',
    'io.containerd.timeout.task.state': '9s',
  });
  assert.equal(config.metrics.address, ':9000');
  assert.deepEqual(JSON.parse(JSON.stringify(config.plugins)), {
    'io.containerd.gc.v1.scheduler': { schedule_delay: '1s' }, // a plugin section is replaced whole
    'io.containerd.snapshotter.v1.native': { root_path: '/main/native' },
  });
});

test('import errors name the file, and the importer for a missing import', (t) => {
  const dir = tempDir(t);
  const main = write(dir, 'config.toml', 'version = 2\nimports = ["missing.toml", "bad.toml"]\n');
  assert.throws(() => loadConfig(main), { message: `${join(dir, 'missing.toml')}: no such file (imported by ${main})` });
  write(dir, 'missing.toml', '');
  const bad = write(dir, 'bad.toml', 'version = 1\n');
  assert.throws(() => loadConfig(main), { message: new RegExp(`^${bad}: version = 1: ledgerd reads version 2`) });
  write(dir, 'bad.toml', 'disabled_plugins = ["aufs"]\n');
  assert.throws(() => loadConfig(main), { message: new RegExp(`^${bad}: disabled_plugins entry "aufs": must be a full plugin URI`) });
});

test('glob patterns: ?, character classes, a path without *, a bad pattern', (t) => {
  const dir = tempDir(t);
  write(dir, 'd/1.toml', 'oom_score = 1\n');
  write(dir, 'd/2.toml', 'oom_score = 2\n');
  write(dir, 'd/x.toml', 'oom_score = 3\n');
  assert.equal(loadConfig(write(dir, 'c1.toml', 'version = 2\nimports = ["d/[0-9].toml*"]\n')).oom_score, 2);
  // as containerd: only a path with a * is a pattern
  assert.throws(() => loadConfig(write(dir, 'c0.toml', 'version = 2\nimports = ["d/[0-9].toml"]\n')), /d\/\[0-9\]\.toml: no such file/);
  assert.equal(loadConfig(write(dir, 'c2.toml', 'version = 2\nimports = ["d/[^0-9].toml*"]\n')).oom_score, 3);
  assert.equal(loadConfig(write(dir, 'c3.toml', 'version = 2\nimports = ["d/?.tom*"]\n')).oom_score, 3);
  assert.equal(loadConfig(write(dir, 'c4.toml', 'version = 2\nimports = ["*/1.toml"]\n')).oom_score, 1);
  assert.throws(() => loadConfig(write(dir, 'c5.toml', 'version = 2\nimports = ["d/[0-9.toml*"]\n')), /imports: bad pattern/);
});

test('root must differ from state, and the gRPC address must be set', (t) => {
  rejects(t, 'version = 2\nroot = "/x"\nstate = "/x/"\n', /root and state must be different paths/);
  rejects(t, 'version = 2\n[grpc]\naddress = ""\n', /grpc address cannot be empty/);
  rejects(t, 'version = 2\nroot = ""\n', /root must be specified/);
});

test('command-line overrides', (t) => {
  const config = applyOverrides(defaultConfig(), { root: 'rel/root', state: '/s', address: '/a.sock', logLevel: 'debug' });
  assert.equal(config.root, join(process.cwd(), 'rel/root'));
  assert.equal(config.state, '/s');
  assert.equal(config.grpc.address, '/a.sock');
  assert.equal(config.debug.level, 'debug');
  assert.deepEqual(applyOverrides(defaultConfig(), {}), defaultConfig(), 'no flags, no change');
  assert.throws(() => applyOverrides(defaultConfig(), { state: '/var/lib/ledgerd' }), {
    message: 'config: root and state must be different paths (both are /var/lib/ledgerd)',
  });
  const file = write(tempDir(t), 'config.toml', 'version = 2\nroot = "/from/file"\n');
  assert.equal(applyOverrides(loadConfig(file), { root: '/from/flag' }).root, '/from/flag');
});

const registrations: Registration[] = [
  { type: 'io.ledgerd.log.v1', id: 'lmdb', config: { dir: '' }, init: () => ({}) },
  {
    type: 'io.containerd.gc.v1',
    id: 'scheduler',
    config: { pause_threshold: 0.02, deletion_threshold: 0, mutation_threshold: 100, schedule_delay: '0s', startup_delay: '100ms' },
    init: () => ({}),
  },
  { type: 'io.containerd.runtime.v2', id: 'task', config: { platforms: ['linux/amd64'], sched_core: false, nested: { a: { b: [1, 2] } } }, init: () => ({}) },
  { type: 'io.containerd.grpc.v1', id: 'version', init: () => ({}) },
];

test('ledgerd config default prints a version 2 file that parses back to the defaults', (t) => {
  const text = defaultConfigToml(registrations);
  assert.match(text, /^version = 2\n/);
  assert.match(text, /\[plugins\."io\.containerd\.gc\.v1\.scheduler"\]/);
  assert.doesNotMatch(text, /grpc\.v1\.version/, 'a plugin without config has no section');
  const expected = {
    ...defaultConfig(),
    plugins: {
      'io.ledgerd.log.v1.lmdb': { dir: '' },
      'io.containerd.gc.v1.scheduler': registrations[1]!.config,
      'io.containerd.runtime.v2.task': registrations[2]!.config,
    },
  };
  assert.deepEqual(JSON.parse(JSON.stringify(parse(text))), expected);

  // and the daemon loads it as is, and every plugin decodes it without a warning
  const file = write(tempDir(t), 'config.toml', text);
  const loaded = loadConfig(file);
  assert.deepEqual(JSON.parse(JSON.stringify(loaded)), { ...expected, imports: [file] });
  const warnings: string[] = [];
  const host = new PluginHost(registrations, { ...loaded, root: join(file, '..', 'root'), state: join(file, '..', 'state') }, (m) => warnings.push(m));
  return host.init().then(() => assert.deepEqual(warnings, []));
});
