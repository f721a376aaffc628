// A pod end to end through the CRI, as kubelet drives it, inside a network namespace of the
// test's own (cri-<pid>): registry and daemon run in it, the CNI bridge is made in it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { startTestDaemon } from '../helpers/daemon.js';
import { buildImage, busyboxEntries, skipWithoutRegistry } from '../helpers/registry.js';
import { criClient, registryInNetns, testNetns, writeCriConfig } from '../helpers/cri.js';
import { tempDir } from '../helpers/tmp.js';
import { skipCri as skip, writeBridgeNetwork } from '../helpers/cri-testbed.js';

const netnsInode = (path: string) => statSync(path).ino;

test('a pod through the CRI: run, a container in it with logs and exec, status, list, survive a restart, stop, remove (each twice)', { skip, timeout: 120_000 }, async (t) => {
  const inNetns = testNetns(t, 'cri');
  const sleeper = [...busyboxEntries(), { name: 'bin/sleep', type: 'symlink' as const, linkname: 'busybox' }];
  const tools = [...sleeper, ...['hostname', 'grep'].map((a) => ({ name: `bin/${a}`, type: 'symlink' as const, linkname: 'busybox' }))];
  const registry = await registryInNetns(t, inNetns, [
    { repository: 'pause', tag: '3.6', image: await buildImage([sleeper], { cmd: ['/bin/sleep', 'infinity'] }) },
    { repository: 'library/busybox', tag: '1.0', image: await buildImage([tools]) },
  ]);

  const dir = tempDir(t);
  const { config, cniConf } = writeCriConfig(dir, registry.host);
  writeBridgeNetwork(cniConf);
  let daemon = await startTestDaemon(t, { dir: join(dir, 'daemon'), args: ['-c', config], wrap: inNetns });
  let cri = criClient(t, daemon.address);

  const podConfig = {
    metadata: { name: 'web', uid: 'uid-1', namespace: 'default', attempt: 0 },
    hostname: 'web-0',
    log_directory: join(dir, 'pod-logs'),
    labels: { app: 'web' },
    dns_config: { servers: ['10.0.0.10'], searches: ['default.svc'], options: ['ndots:5'] },
    port_mappings: [{ protocol: 'TCP', container_port: 80, host_port: 8080 }],
    linux: { sysctls: { 'net.ipv4.ip_unprivileged_port_start': '0' } },
  };
  const { pod_sandbox_id: id } = await cri.runtime('RunPodSandbox', { config: podConfig });
  assert.match(id, /^[a-f0-9]{64}$/);
  try {
    await checkPod();
  } finally {
    // whatever failed, the pod's pause process, shim and netns go
    await cri.runtime('RemovePodSandbox', { pod_sandbox_id: id }).catch(() => undefined);
  }

  async function checkPod() {

  const inspect = async () => cri.runtime('PodSandboxStatus', { pod_sandbox_id: id, verbose: true });
  let { status: pod, info } = await inspect();
  assert.equal(pod.state, 'SANDBOX_READY');
  assert.deepEqual(pod.metadata, podConfig.metadata);
  assert.match(pod.network.ip, /^10\.88\./);
  const details = JSON.parse(info.info);
  assert.match(details.netnsPath, /^\/var\/run\/netns\/cni-/);
  assert.equal(statSync(`/proc/${details.pid}/ns/net`).ino, netnsInode(details.netnsPath), 'the pause process lives in the pod netns');
  const sandboxFiles = join(daemon.root, 'io.containerd.grpc.v1.cri', 'sandboxes', id);
  assert.equal(readFileSync(join(sandboxFiles, 'resolv.conf'), 'utf8'), 'search default.svc\nnameserver 10.0.0.10\noptions ndots:5\n');
  assert.equal(readFileSync(`/proc/${details.pid}/cmdline`, 'utf8').split('\0')[0], '/bin/sleep');

  assert.deepEqual((await cri.runtime('ListPodSandbox', {})).items.map((p: { id: string }) => p.id), [id]);
  assert.deepEqual((await cri.runtime('ListPodSandbox', { filter: { label_selector: { app: 'db' } } })).items, []);
  assert.equal((await cri.runtime('ListPodSandbox', { filter: { id: id.slice(0, 12) } })).items[0].id, id);
  await assert.rejects(cri.runtime('RunPodSandbox', { config: podConfig }), (err: { code: number }) => err.code === status.ALREADY_EXISTS);
  await assert.rejects(cri.runtime('RunPodSandbox', { config: { metadata: { name: 'x', namespace: 'default' } } }), (err: { code: number; details: string }) => {
    assert.equal(err.code, status.INVALID_ARGUMENT);
    assert.match(err.details, /config\.metadata\.uid: must be set/);
    return true;
  });

  // the daemon's own records: the pause container in namespace k8s.io, and its running task
  const k8s = daemon.connect('k8s.io');
  const { containers } = await k8s.unary<{ containers: { id: string; labels: Record<string, string> }[] }>('containerd.services.containers.v1.Containers', 'List', {});
  assert.deepEqual(containers.map((c) => [c.id, c.labels['io.cri-containerd.kind']]), [[id, 'sandbox']]);

  // a container in the pod: logs in the CRI format, the pod's hostname and DNS, exec
  await cri.images('PullImage', { image: { image: 'busybox:1.0' } });
  const { container_id: cid } = await cri.runtime('CreateContainer', {
    pod_sandbox_id: id,
    config: {
      metadata: { name: 'app', attempt: 0 },
      image: { image: 'busybox:1.0' },
      command: ['sh', '-c'],
      args: ['echo hello; echo oops >&2; hostname; exec sleep 1000'],
      envs: [{ key: 'GREETING', value: 'hi' }],
      log_path: 'app/0.log',
      labels: { tier: 'front' },
    },
    sandbox_config: podConfig,
  });
  const containerStatus = async () => (await cri.runtime('ContainerStatus', { container_id: cid })).status;
  assert.equal((await containerStatus()).state, 'CONTAINER_CREATED');
  await cri.runtime('StartContainer', { container_id: cid });
  assert.equal((await containerStatus()).state, 'CONTAINER_RUNNING');
  const logFile = join(dir, 'pod-logs', 'app', '0.log');
  for (let i = 0; !(existsSync(logFile) && readFileSync(logFile, 'utf8').includes('web-0')); i++) {
    assert.ok(i < 100, `the log gets the container's output: ${existsSync(logFile) ? readFileSync(logFile, 'utf8') : 'no file'}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const lines = readFileSync(logFile, 'utf8').trim().split('\n').map((line) => line.split(' '));
  assert.deepEqual(lines.map((l) => l.slice(1).join(' ')).sort(), ['stderr F oops', 'stdout F hello', 'stdout F web-0']);
  assert.ok(lines.every((l) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/.test(l[0]!)), 'RFC 3339 timestamps with nanoseconds');
  const exec = await cri.runtime('ExecSync', { container_id: cid, cmd: ['sh', '-c', 'grep nameserver /etc/resolv.conf; echo $GREETING >&2; exit 3'], timeout: 10 });
  assert.equal(Buffer.from(exec.stdout).toString(), 'nameserver 10.0.0.10\n');
  assert.equal(Buffer.from(exec.stderr).toString(), 'hi\n');
  assert.equal(exec.exit_code, 3);
  assert.deepEqual((await cri.runtime('ListContainers', { filter: { pod_sandbox_id: id, label_selector: { tier: 'front' } } })).containers.map((c: { id: string }) => c.id), [cid]);
  const { stats } = await cri.runtime('ContainerStats', { container_id: cid });
  assert.equal(stats.attributes.id, cid);
  assert.ok(Number(stats.cpu.usage_core_nano_seconds.value) > 0, 'CPU time from the cgroup');
  assert.ok(Number(stats.memory.working_set_bytes.value) > 0, 'memory from the cgroup');
  assert.ok(Number(stats.writable_layer.used_bytes.value) >= 0);
  assert.equal((await cri.runtime('ListContainerStats', { filter: { pod_sandbox_id: id } })).stats.length, 1);
  // the streaming sessions themselves: test/cri/streaming.test.ts
  assert.match((await cri.runtime('Exec', { container_id: cid, cmd: ['sh'], stdout: true })).url, /^http:\/\/127\.0\.0\.1:\d+\/exec\/[\w-]{8}$/);
  await assert.rejects(cri.runtime('Exec', { container_id: cid, cmd: ['sh'], tty: true, stdout: true, stderr: true }), (err: { code: number; details: string }) => {
    assert.equal(err.code, status.INVALID_ARGUMENT);
    assert.match(err.details, /tty and stderr cannot both be true/);
    return true;
  });

  // a restart: the pod is known from the log and its pause process kept running
  assert.equal(await daemon.stop(), 0);
  daemon = await daemon.restart();
  cri = criClient(t, daemon.address);
  ({ status: pod } = await inspect());
  assert.equal(pod.state, 'SANDBOX_READY');
  assert.ok(existsSync(`/proc/${details.pid}`), 'the pause process survived the restart');
  const afterRestart = await containerStatus();
  assert.equal(afterRestart.state, 'CONTAINER_RUNNING', `so did the container: ${JSON.stringify(afterRestart)} ${daemon.output()}`);

  for (let i = 0; i < 2; i++) await cri.runtime('StopPodSandbox', { pod_sandbox_id: id });
  ({ status: pod } = await inspect());
  assert.equal(pod.state, 'SANDBOX_NOTREADY');
  const stopped = await containerStatus();
  assert.deepEqual([stopped.state, stopped.exit_code, stopped.reason], ['CONTAINER_EXITED', 137, 'Error'], 'stopping the pod stopped its container');
  assert.ok(!existsSync(details.netnsPath), 'the netns is gone');
  for (let i = 0; i < 2; i++) await cri.runtime('RemovePodSandbox', { pod_sandbox_id: id });
  assert.deepEqual((await cri.runtime('ListPodSandbox', {})).items, []);
  assert.deepEqual((await cri.runtime('ListContainers', {})).containers, [], 'removing the pod removed its container');
  await assert.rejects(inspect(), (err: { code: number }) => err.code === status.NOT_FOUND);
  const after = await daemon.connect('k8s.io').unary<{ containers: unknown[] }>('containerd.services.containers.v1.Containers', 'List', {});
  assert.deepEqual(after.containers, []);
  }
});
