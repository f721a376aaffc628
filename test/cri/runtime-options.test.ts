// A CRI runtime's options as task options, and the cgroups paths containerd's CRI gives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cgroupsPath, runtimeOptions } from '../../src/cri/runtime-options.js';
import { runcOptions } from '../../src/shims/shared/runc-options.js';

test('runc options from a runtime options table: SystemdCgroup and the rest reach the shim; an unknown key is refused', () => {
  const any = runtimeOptions('io.containerd.runc.v2', { SystemdCgroup: true, BinaryName: '/usr/local/bin/crun', Root: '/run/k8s-runc', IoUid: 1000 });
  assert.equal(any?.type_url, 'containerd.runc.v1.Options');
  const decoded = runcOptions(any);
  assert.deepEqual([decoded.systemd_cgroup, decoded.binary_name, decoded.root, decoded.io_uid], [true, '/usr/local/bin/crun', '/run/k8s-runc', 1000]);
  assert.equal(runtimeOptions('io.containerd.runc.v2', {}), undefined);
  assert.equal(runtimeOptions('io.containerd.kata.v2', { SystemdCgroup: true }), undefined, "another shim's options are not runc's");
  assert.throws(() => runtimeOptions('io.containerd.runc.v2', { SystemdCgroups: true }), /"SystemdCgroups" is not an option of io.containerd.runc.v2/);
});

test('cgroups paths: under a systemd slice "slice:cri-containerd:id", else a directory', () => {
  assert.equal(cgroupsPath('/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice', 'abc'), 'kubepods-besteffort-pod1.slice:cri-containerd:abc');
  assert.equal(cgroupsPath('/kubepods/besteffort/pod1/', 'abc'), '/kubepods/besteffort/pod1/abc');
});
