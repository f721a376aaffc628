import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ShimBinaryResolver, shimBinaryName } from '../../src/shims/binary-path.js';
import { tempDir } from '../helpers/tmp.js';

test("runtime names resolve as containerd's (beside the daemon), and configured overrides win", (t) => {
  const dir = tempDir(t);
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  for (const name of ['containerd-shim-runc-v2', 'containerd-shim-ledger-v1']) {
    writeFileSync(join(bin, name), '#!/bin/sh\n');
    chmodSync(join(bin, name), 0o755);
  }
  assert.equal(shimBinaryName('io.containerd.runc.v2'), 'containerd-shim-runc-v2');
  assert.equal(shimBinaryName('runc'), undefined);
  const plain = new ShimBinaryResolver(join(bin, 'ledgerd'));
  assert.equal(plain.resolve('io.containerd.ledger.v1'), join(bin, 'containerd-shim-ledger-v1'));
  const mapped = new ShimBinaryResolver(join(bin, 'ledgerd'), { 'io.containerd.runc.v2': 'containerd-shim-ledger-v1', 'x.custom.v9': join(bin, 'containerd-shim-runc-v2') });
  assert.equal(mapped.resolve('io.containerd.runc.v2'), join(bin, 'containerd-shim-ledger-v1'));
  assert.equal(mapped.resolve('x.custom.v9'), join(bin, 'containerd-shim-runc-v2'));
  assert.throws(() => plain.resolve('io.containerd.nope.v1'), /binary not installed "containerd-shim-nope-v1"/);
  assert.throws(() => plain.resolve('runc'), /invalid runtime name runc/);
});
