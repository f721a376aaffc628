import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { OWN_SHIM_BINARY, ShimBinaryResolver, shimBinaryName } from '../../src/shims/runtime/binary-path.js';
import { WarmShimPool } from '../../src/shims/runtime/warm-shims.js';
import { lookPath } from '../../src/shims/shared/look-path.js';
import { tempDir } from '../helpers/tmp.js';

test('runtime names map to containerd-shim-<name>-<version>', () => {
  assert.equal(shimBinaryName('io.containerd.runc.v2'), 'containerd-shim-runc-v2');
  assert.equal(shimBinaryName('io.containerd.kata.v2'), 'containerd-shim-kata-v2');
  assert.equal(shimBinaryName('/opt/x/io.containerd.ledger.v1'), 'containerd-shim-ledger-v1');
  assert.equal(shimBinaryName('runc'), undefined);
});

test('resolution: absolute paths as they are; names beside their relative directory, $PATH, the daemon\'s directory; cached per binary', (t) => {
  const dir = tempDir(t);
  const shim = (sub: string, name: string) => {
    mkdirSync(join(dir, sub), { recursive: true });
    writeFileSync(join(dir, sub, name), '#!/bin/sh\n');
    chmodSync(join(dir, sub, name), 0o755);
    return join(dir, sub, name);
  };
  const beside = shim('beside', 'containerd-shim-a-v1');
  const onPath = shim('path', 'containerd-shim-b-v1');
  const daemonDir = shim('daemon', 'containerd-shim-c-v1');
  writeFileSync(join(dir, 'path', 'containerd-shim-noexec-v1'), '');
  const savedPath = process.env.PATH;
  process.env.PATH = `${join(dir, 'path')}:${savedPath}`;
  t.after(() => (process.env.PATH = savedPath));
  const resolver = new ShimBinaryResolver(join(dir, 'daemon', 'ledgerd'));

  // a relative name with a directory part looks beside it (relative to the working directory)
  assert.equal(resolver.resolve(relative(process.cwd(), join(dir, 'beside', 'io.containerd.a.v1'))), beside);
  assert.equal(resolver.resolve('io.containerd.b.v1'), onPath);
  assert.equal(resolver.resolve('io.containerd.c.v1'), daemonDir);
  assert.equal(resolver.resolve(beside), beside);
  assert.throws(() => resolver.resolve('io.containerd.noexec.v1'), /binary not installed "containerd-shim-noexec-v1"/);
  assert.throws(() => resolver.resolve('/no/such/shim'), /invalid custom binary path/);
  assert.throws(() => resolver.resolve(''), /no runtime name/);
  process.env.PATH = savedPath;
  assert.equal(resolver.resolve('io.containerd.b.v1'), onPath, 'cached');
});

test("configured overrides (the plugin's shim_binaries) win over containerd's resolution", (t) => {
  const dir = tempDir(t);
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  for (const name of ['containerd-shim-runc-v2', 'containerd-shim-ledger-v1']) {
    writeFileSync(join(bin, name), '#!/bin/sh\n');
    chmodSync(join(bin, name), 0o755);
  }
  assert.equal(shimBinaryName('io.containerd.runc.v2'), 'containerd-shim-runc-v2');
  assert.equal(shimBinaryName('runc'), undefined);
  // nothing on $PATH may win over the daemon's directory (install.sh links the shim into /usr/local/bin)
  const savedPath = process.env.PATH;
  process.env.PATH = '';
  t.after(() => (process.env.PATH = savedPath));
  const plain = new ShimBinaryResolver(join(bin, 'ledgerd'), {}, {});
  assert.equal(plain.resolve('io.containerd.ledger.v1'), join(bin, 'containerd-shim-ledger-v1'));
  const mapped = new ShimBinaryResolver(join(bin, 'ledgerd'), { 'io.containerd.runc.v2': 'containerd-shim-ledger-v1', 'x.custom.v9': join(bin, 'containerd-shim-runc-v2') }, {});
  assert.equal(mapped.resolve('io.containerd.runc.v2'), join(bin, 'containerd-shim-ledger-v1'));
  assert.equal(mapped.resolve('x.custom.v9'), join(bin, 'containerd-shim-runc-v2'));
  assert.throws(() => plain.resolve('io.containerd.nope.v1'), /binary not installed "containerd-shim-nope-v1"/);
  assert.throws(() => plain.resolve('runc'), /invalid runtime name runc/);
});

test("ledgerd's own shim is the one of this installation, whatever $PATH holds under its name", (t) => {
  const dir = tempDir(t);
  const executable = (sub: string) => {
    mkdirSync(join(dir, sub), { recursive: true });
    const path = join(dir, sub, 'containerd-shim-ledger-v1');
    writeFileSync(path, '#!/bin/sh\n');
    chmodSync(path, 0o755);
    return path;
  };
  const impostor = executable('other-checkout'); // what another checkout's install links into /usr/local/bin
  const own = executable('own');
  const savedPath = process.env.PATH;
  process.env.PATH = `${join(dir, 'other-checkout')}:${savedPath}`;
  t.after(() => (process.env.PATH = savedPath));

  const resolver = new ShimBinaryResolver(join(dir, 'daemon', 'ledgerd'), { 'io.containerd.runc.v2': 'containerd-shim-ledger-v1' }, { 'containerd-shim-ledger-v1': own });
  assert.equal(resolver.resolve('io.containerd.runc.v2'), own, 'the default runtime, mapped to the shim by name');
  assert.equal(resolver.resolve('io.containerd.ledger.v1'), own, 'the runtime named after it');
  assert.equal(resolver.resolve(impostor), impostor, 'an absolute path is still taken as it is');
  const elsewhere = new ShimBinaryResolver(join(dir, 'daemon', 'ledgerd'), {}, { 'containerd-shim-ledger-v1': own });
  assert.equal(elsewhere.resolve(relative(process.cwd(), join(dir, 'other-checkout', 'io.containerd.ledger.v1'))), impostor, 'a name with a directory part looks there first, as containerd');
  const missing = new ShimBinaryResolver(join(dir, 'daemon', 'ledgerd'), {}, { 'containerd-shim-ledger-v1': join(dir, 'gone', 'containerd-shim-ledger-v1') });
  assert.equal(missing.resolve('io.containerd.ledger.v1'), impostor, 'without an own shim, the search as containerd does it');

  // the daemon's default: bin/containerd-shim-ledger-v1 of this checkout
  assert.equal(new ShimBinaryResolver().resolve('io.containerd.ledger.v1'), OWN_SHIM_BINARY);
  assert.ok(WarmShimPool.serves(new ShimBinaryResolver().resolve('io.containerd.ledger.v1')), 'warm shims are for it');
});

test('lookPath: the first executable file of that name in $PATH; a name with a slash as it is; else undefined', (t) => {
  const dir = tempDir(t);
  for (const sub of ['a', 'b', 'c']) mkdirSync(join(dir, sub));
  writeFileSync(join(dir, 'a', 'tool'), ''); // not executable: skipped
  mkdirSync(join(dir, 'b', 'tool')); // a directory: skipped
  writeFileSync(join(dir, 'c', 'tool'), '#!/bin/sh\n');
  chmodSync(join(dir, 'c', 'tool'), 0o755);
  const savedPath = process.env.PATH;
  process.env.PATH = ['a', 'b', 'c'].map((sub) => join(dir, sub)).join(':');
  t.after(() => (process.env.PATH = savedPath));
  assert.equal(lookPath('tool'), join(dir, 'c', 'tool'));
  assert.equal(lookPath('no-such-tool'), undefined);
  assert.equal(lookPath('./tool'), './tool');
});
