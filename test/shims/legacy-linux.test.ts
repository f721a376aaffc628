// io.containerd.runtime.v1.linux's options carried over to the runc shim v2's (legacy-linux.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { legacyLinuxOptions } from '../../src/shims/runtime/legacy-linux.js';
import { decode, encode } from '../../src/shims/wire/protocol/protowire.js';
import { LegacyCreateOptions, LegacyRuncOptions, RuncOptions, type RuncOptionsValue } from '../../src/shims/wire/protocol/task.js';

const settings = { runtime: 'runc', runtimeRoot: '/run/legacy', shimDebug: false };
const any = (type: typeof LegacyRuncOptions, value: Record<string, unknown>) => ({ typeUrl: type.name, value: encode(type, value) });
const translated = (...given: Parameters<typeof legacyLinuxOptions>[1]) => {
  const options = legacyLinuxOptions(settings, given);
  assert.equal(options.typeUrl, 'containerd.runc.v1.Options');
  return decode<RuncOptionsValue>(RuncOptions, options.value);
};

test("the container's RuncOptions and the task's CreateOptions become the runc shim's options", () => {
  const runc = any(LegacyRuncOptions, { runtime: '/opt/runc', runtime_root: '/run/mine', criu_path: '/opt/criu', systemd_cgroup: true });
  const create = { typeUrl: `type.googleapis.com/${LegacyCreateOptions.name}`, value: encode(LegacyCreateOptions, { no_pivot_root: true, no_new_keyring: true, shim_cgroup: '/shim', io_uid: 1000, io_gid: 1001, criu_work_path: '/w', criu_image_path: '/i' }) };
  assert.deepEqual(translated(create, runc), {
    no_pivot_root: true,
    no_new_keyring: true,
    shim_cgroup: '/shim',
    io_uid: 1000,
    io_gid: 1001,
    binary_name: '/opt/runc',
    root: '/run/mine',
    criu_path: '/opt/criu',
    systemd_cgroup: true,
    criu_image_path: '/i',
    criu_work_path: '/w',
  });
});

test("the plugin's runtime and runtime_root fill in what the container's options leave empty; other types are ignored", () => {
  const empty = translated(undefined, any(LegacyRuncOptions, {}));
  assert.equal(empty.binary_name, 'runc');
  assert.equal(empty.root, '/run/legacy');
  const none = translated({ typeUrl: 'containerd.runc.v1.Options', value: encode(RuncOptions, { binary_name: 'not-read' }) }, undefined);
  assert.equal(none.binary_name, 'runc');
  assert.equal(none.no_pivot_root, false);
});
