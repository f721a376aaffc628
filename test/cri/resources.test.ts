// Container resources through the CRI: limits, OOM score and devices at create, the pod's shared
// /dev/shm, and UpdateContainerResources on a running and a created container, kept across a
// daemon restart. cgroup figures are read from the kernel's files (v1 or v2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmdirSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { criTestbed, podConfig, skipCri } from '../helpers/cri-testbed.js';
import { tempDir } from '../helpers/tmp.js';

const MiB = 1024 * 1024;

/** A cgroup file of process `pid`, for controller `controller` (v1), or the unified one (v2). */
function cgroupFile(pid: number, controller: string, v1: string, v2: string): number {
  const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n').map((l) => l.split(':'));
  const own = lines.find(([, controllers]) => controllers!.split(',').includes(controller));
  const raw = own ? readFileSync(join('/sys/fs/cgroup', controller, own[2]!, v1), 'utf8') : readFileSync(join('/sys/fs/cgroup', lines.find(([, c]) => c === '')![2]!, v2), 'utf8');
  return Number(raw.trim().split(' ')[0]);
}

/** Removes a cgroup the pods' cgroup parent made, in every hierarchy (v1) or the unified one. */
function removeCgroup(path: string): void {
  for (const root of ['/sys/fs/cgroup', ...readdirSync('/sys/fs/cgroup').map((c) => join('/sys/fs/cgroup', c))]) {
    try {
      rmdirSync(join(root, path));
    } catch {
      // not in this hierarchy
    }
  }
}

test('resources at create and through UpdateContainerResources, before and after a daemon restart', { skip: skipCri, timeout: 120_000 }, async (t) => {
  // the runtime's options reach its tasks: runc keeps its state under this Root
  const runcRoot = tempDir(t);
  const bed = await criTestbed(t, { tag: 'res', extraConfig: `  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]\n    Root = "${runcRoot}"` });
  // a cgroup parent of the pod's own, as kubelet gives one: the pod's stats come from it
  const parent = `/crires-pod-${process.pid}`;
  t.after(() => removeCgroup(parent));
  const config = podConfig(bed, 'limits', { linux: { cgroup_parent: parent } });
  await bed.withPod(config, async (pod) => {
    await bed.cri.images('PullImage', { image: { image: 'busybox:1.0' } });
    const create = (name: string, extra: Record<string, unknown>) =>
      bed.cri.runtime('CreateContainer', { pod_sandbox_id: pod, sandbox_config: config, config: { metadata: { name }, image: { image: 'busybox:1.0' }, command: ['sleep', '1000'], ...extra } });
    const { container_id: cid } = await create('app', {
      linux: { resources: { cpu_shares: 512, cpu_quota: 20000, cpu_period: 100000, memory_limit_in_bytes: 64 * MiB, oom_score_adj: 500, cpuset_cpus: '0' } },
      devices: [{ host_path: '/dev/null', container_path: '/dev/xnull', permissions: 'rw' }],
    });
    await bed.cri.runtime('StartContainer', { container_id: cid });
    const pidOf = async (id: string) => JSON.parse((await bed.cri.runtime('ContainerStatus', { container_id: id, verbose: true })).info.info).pid as number;
    const pid = await pidOf(cid);
    assert.equal(cgroupFile(pid, 'memory', 'memory.limit_in_bytes', 'memory.max'), 64 * MiB);
    assert.equal(cgroupFile(pid, 'cpu', 'cpu.cfs_quota_us', 'cpu.max'), 20000);
    assert.equal(cgroupFile(pid, 'cpu', 'cpu.shares', 'cpu.weight'), readFileSync(`/proc/${pid}/cgroup`, 'utf8').includes(':cpu:') ? 512 : 20, 'shares 512 (v2: weight 20)');
    assert.equal(readFileSync(`/proc/${pid}/oom_score_adj`, 'utf8').trim(), '500');
    const exec = async (id: string, script: string) => {
      const r = await bed.cri.runtime('ExecSync', { container_id: id, cmd: ['sh', '-c', script], timeout: 10 });
      return { out: Buffer.from(r.stdout).toString() + Buffer.from(r.stderr).toString(), code: r.exit_code as number };
    };
    assert.ok(existsSync(join(runcRoot, 'k8s.io', pod)) && existsSync(join(runcRoot, 'k8s.io', cid)), 'runc ran the pod and its container with the runtime\'s Root');
    assert.deepEqual(await exec(cid, 'test -c /dev/xnull && echo x > /dev/xnull && echo written'), { out: 'written\n', code: 0 }, 'the device is there and writable');

    // the pod's /dev/shm: one 64 MiB tmpfs its containers share, seen from the host
    assert.equal((await exec(cid, 'echo shared > /dev/shm/note && echo ok')).out, 'ok\n');
    const shm = join(bed.daemon.state, 'io.containerd.grpc.v1.cri', 'sandboxes', pod, 'shm');
    assert.equal(readFileSync(join(shm, 'note'), 'utf8'), 'shared\n');
    const fs = statfsSync(shm);
    assert.equal(fs.blocks * fs.bsize, 64 * MiB);

    // an update of the running container: the set fields change, the others stay
    await bed.cri.runtime('UpdateContainerResources', { container_id: cid, linux: { memory_limit_in_bytes: 128 * MiB, cpu_quota: 50000 } });
    assert.equal(cgroupFile(pid, 'memory', 'memory.limit_in_bytes', 'memory.max'), 128 * MiB);
    assert.equal(cgroupFile(pid, 'cpu', 'cpu.cfs_quota_us', 'cpu.max'), 50000);
    const resources = async (id: string) => (await bed.cri.runtime('ContainerStatus', { container_id: id })).status.resources.linux;
    const after = await resources(cid);
    assert.deepEqual([Number(after.memory_limit_in_bytes), Number(after.cpu_quota), Number(after.cpu_shares), Number(after.cpu_period), after.cpuset_cpus, Number(after.oom_score_adj)], [128 * MiB, 50000, 512, 100000, '0', 500]);

    // an update of a container not started yet goes into its spec, and its start applies it
    const { container_id: later } = await create('later', {});
    await bed.cri.runtime('UpdateContainerResources', { container_id: later, linux: { memory_limit_in_bytes: 32 * MiB } });
    await bed.cri.runtime('StartContainer', { container_id: later });
    assert.equal(cgroupFile(await pidOf(later), 'memory', 'memory.limit_in_bytes', 'memory.max'), 32 * MiB);

    await assert.rejects(bed.cri.runtime('UpdateContainerResources', { container_id: 'f'.repeat(64), linux: { cpu_shares: 2 } }), (err: { code: number }) => err.code === status.NOT_FOUND);
    await assert.rejects(create('bad-device', { devices: [{ host_path: '/etc/hostname', container_path: '/dev/x' }] }), (err: { code: number; details: string }) => {
      assert.equal(err.code, status.INVALID_ARGUMENT);
      assert.match(err.details, /config\.devices\[0\]\.host_path: \/etc\/hostname is not a device node/);
      return true;
    });

    // the pod's stats: its cgroup, its network namespace's interfaces, its processes, its containers
    const { stats: podStats } = await bed.cri.runtime('PodSandboxStats', { pod_sandbox_id: pod });
    assert.equal(podStats.attributes.id, pod);
    assert.ok(Number(podStats.linux.cpu.usage_core_nano_seconds.value) > 0);
    assert.ok(Number(podStats.linux.memory.working_set_bytes.value) > 0);
    assert.equal(podStats.linux.network.default_interface.name, 'eth0');
    assert.ok(Number(podStats.linux.network.default_interface.tx_bytes.value) > 0, 'the pod sent its router solicitations or ARP at least');
    assert.ok(Number(podStats.linux.process.process_count.value) >= 3, 'pause and two sleeps');
    assert.deepEqual(podStats.linux.containers.map((c: { attributes: { id: string } }) => c.attributes.id).sort(), [cid, later].sort());
    assert.equal(Number(podStats.linux.containers.find((c: { attributes: { id: string } }) => c.attributes.id === cid).memory.available_bytes.value) > 0, true, 'a limited container has memory left');
    assert.deepEqual((await bed.cri.runtime('ListPodSandboxStats', { filter: { id: pod.slice(0, 10) } })).stats.map((s: { attributes: { id: string } }) => s.attributes.id), [pod]);

    // usage_nano_cores: CPU use since the previous stats call, per container and per pod
    const nanoCores = async (id: string) => Number((await bed.cri.runtime('ContainerStats', { container_id: id })).stats.cpu.usage_nano_cores.value);
    const podNanoCores = async () => Number((await bed.cri.runtime('PodSandboxStats', { pod_sandbox_id: pod })).stats.linux.cpu.usage_nano_cores.value);
    await nanoCores(later);
    await new Promise((resolve) => setTimeout(resolve, 300)); // time passing, for a rate over it
    assert.ok((await nanoCores(later)) < 10_000_000, 'an idle container (sleep) uses under 1% of a core');
    const loop = (await exec(later, '(while :; do :; done) >/dev/null 2>&1 & echo $!')).out.trim();
    await podNanoCores();
    let busiest = 0;
    for (let i = 0; i < 50 && busiest < 100_000_000; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      busiest = Math.max(busiest, await nanoCores(later));
    }
    assert.ok(busiest >= 100_000_000, `a busy loop shows at least a tenth of a core (saw ${busiest} nano-cores)`);
    assert.ok((await podNanoCores()) >= 50_000_000, 'and in its pod');
    const listed = (await bed.cri.runtime('ListContainerStats', { filter: { id: later } })).stats[0];
    assert.ok(Number(listed.cpu.usage_nano_cores.value) >= 50_000_000, 'ListContainerStats gives the rate too');
    assert.equal((await exec(later, `kill ${loop}`)).code, 0);

    // a restarted daemon knows the resources in effect from the log, and the spec holds them
    await bed.restart();
    assert.equal(Number((await resources(cid)).memory_limit_in_bytes), 128 * MiB);
    const { container } = await bed.daemon.connect('k8s.io').unary<{ container: { spec: { value: Buffer } } }>('containerd.services.containers.v1.Containers', 'Get', { id: cid });
    assert.equal(JSON.parse(Buffer.from(container.spec.value).toString()).linux.resources.memory.limit, 128 * MiB);
  });
});
