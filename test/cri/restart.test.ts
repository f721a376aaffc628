// What a daemon restart must not break for the CRI: a running container's output goes on into
// its log file, with no line lost while the daemon was away; and what a crash leaves half-made
// is undone at the next start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, constants, existsSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { CNI_BIN, criTestbed, podConfig, skipCri, writeBridgeNetwork } from '../helpers/cri-testbed.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';

test('a running container keeps writing its log across a daemon restart, no line lost', { skip: skipCri, timeout: 120_000 }, async (t) => {
  const bed = await criTestbed(t, { tag: 'rst' });
  const config = podConfig(bed, 'ticker');
  await bed.withPod(config, async (pod) => {
    await bed.cri.images('PullImage', { image: { image: 'busybox:1.0' } });
    const { container_id: cid } = await bed.cri.runtime('CreateContainer', {
      pod_sandbox_id: pod,
      sandbox_config: config,
      config: { metadata: { name: 'ticker' }, image: { image: 'busybox:1.0' }, command: ['sh', '-c', 'i=0; while true; do echo tick $i; echo err $i >&2; i=$((i+1)); sleep 1; done'], log_path: 'ticker.log' },
    });
    await bed.cri.runtime('StartContainer', { container_id: cid });
    const logFile = join(config.log_directory, 'ticker.log');
    const ticks = () => (existsSync(logFile) ? [...readFileSync(logFile, 'utf8').matchAll(/ stdout F tick (\d+)\n/g)].map((m) => Number(m[1])) : []);
    await until('the first ticks in the log', () => ticks().length >= 2, 20_000);
    await bed.restart();
    const before = ticks().length;
    const after = await until('ticks after the restart', () => ticks().length >= before + 3 && ticks(), 30_000);
    assert.deepEqual(after, after.map((_, i) => i), 'every tick once, in order');
    const errs = [...readFileSync(logFile, 'utf8').matchAll(/ stderr F err (\d+)\n/g)].map((m) => Number(m[1]));
    assert.deepEqual(errs.slice(0, after.length - 1), after.slice(0, -1), 'stderr too');
  });
});

test('a RunPodSandbox cut off by a crash is undone at the next start: no netns, CNI address, pause container or directory left', { skip: skipCri, timeout: 120_000 }, async (t) => {
  // a CNI plugin that hangs, last in the network: RunPodSandbox has made the netns and attached
  // the bridge (an address taken from host-local) when the daemon is killed
  const plugins = tempDir(t);
  const hangPid = join(plugins, 'hang.pid');
  writeFileSync(join(plugins, 'crires-hang'), `#!/bin/sh\necho $$ > ${hangPid}\nexec sleep 60\n`, { mode: 0o755 });
  t.after(() => existsSync(hangPid) && process.kill(Number(readFileSync(hangPid, 'utf8')), 'SIGKILL'));
  const bed = await criTestbed(t, { tag: 'cut', cniBinDirs: [plugins, CNI_BIN] });
  writeBridgeNetwork(bed.dirs.cniConf, [{ type: 'crires-hang' }]);
  const running = bed.cri.runtime('RunPodSandbox', { config: podConfig(bed, 'cut') }).catch((err: Error) => err);
  await until('the hanging plugin runs', () => existsSync(hangPid), 30_000);
  const sandboxes = join(bed.daemon.root, 'io.containerd.grpc.v1.cri', 'sandboxes');
  const [id] = readdirSync(sandboxes);
  assert.ok(id);
  const setup = JSON.parse(readFileSync(join(sandboxes, id, 'setup.json'), 'utf8'));
  assert.ok(existsSync(setup.netnsPath), 'the netns was made');
  const allocations = '/var/lib/cni/networks/crinet';
  const addressOf = () => readdirSync(allocations).filter((f) => readFileSync(join(allocations, f), 'utf8').includes(id));
  assert.equal(addressOf().length, 1, 'the bridge took an address for the pod');

  writeBridgeNetwork(bed.dirs.cniConf);
  await bed.restart({ crash: true });
  assert.ok((await running) instanceof Error);
  await until('the cut-off pod undone', () => !existsSync(join(sandboxes, id)), 30_000);
  assert.ok(!existsSync(setup.netnsPath), 'the netns is gone');
  assert.deepEqual(addressOf(), [], 'the address went back to host-local');
  assert.deepEqual((await bed.cri.runtime('ListPodSandbox', {})).items, []);
  const undone = new RegExp(`reconciled: pod sandbox ${id}: a RunPodSandbox cut off by a crash, undone \\(netns ${setup.netnsPath}, 2 CNI attachment`);
  await until('the undo logged', () => undone.test(bed.daemon.output()), 30_000);
  // and pods run as before
  await bed.withPod(podConfig(bed, 'after'), async (pod) => {
    assert.equal((await bed.cri.runtime('PodSandboxStatus', { pod_sandbox_id: pod })).status.state, 'SANDBOX_READY');
  });
});

test('a CreateContainer cut off by a crash is undone at the next start: no containerd container, snapshot or directory left', { skip: skipCri, timeout: 120_000 }, async (t) => {
  // an image whose /etc/passwd is a FIFO: CreateContainer reads it to make the spec, after the
  // snapshot is prepared, and waits there for a writer that never comes
  const hang = { repository: 'library/hang', tag: '1.0', entries: [{ name: 'etc', type: 'directory' as const }, { name: 'etc/passwd', type: 'fifo' as const }] };
  const bed = await criTestbed(t, { tag: 'cc', images: [hang] });
  const config = podConfig(bed, 'cut');
  await bed.withPod(config, async (pod) => {
    await bed.cri.images('PullImage', { image: { image: 'hang:1.0' } });
    const creating = bed.cri.runtime('CreateContainer', { pod_sandbox_id: pod, sandbox_config: config, config: { metadata: { name: 'cut' }, image: { image: 'hang:1.0' }, command: ['sleep', '1'] } }).catch((err: Error) => err);
    const containers = join(bed.daemon.state, 'io.containerd.grpc.v1.cri', 'containers');
    const id = await until('CreateContainer reading the image\'s rootfs', () => existsSync(containers) && readdirSync(containers).find((c) => readdirSync(join(containers, c)).some((f) => f.startsWith('ledgerd-mount-'))), 30_000);
    // should the test fail before the crash, the daemon's read gets its end of file rather than holding the pod's removal for ever
    const passwd = join(containers, id, readdirSync(join(containers, id)).find((f) => f.startsWith('ledgerd-mount-'))!, 'etc', 'passwd');
    const release = () => {
      try {
        closeSync(openSync(passwd, constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {
        // no reader left: the daemon that read it is gone
      }
    };
    try {
      assert.ok(existsSync(join(containers, id, 'create.json')), 'the create marker is down');
      // the state of a crash a moment later, once the containerd container exists (nothing there to wait on)
      const ctr = bed.daemon.connect('k8s.io');
      await ctr.unary('containerd.services.containers.v1.Containers', 'Create', { container: { id, runtime: { name: 'io.containerd.runc.v2' }, spec: { type_url: 'types.containerd.io/opencontainers/runtime-spec/1/Spec', value: Buffer.from('{}') }, snapshotter: 'overlayfs', snapshot_key: id } });
      await ctr.unary('containerd.services.snapshots.v1.Snapshots', 'Stat', { snapshotter: 'overlayfs', key: id });

      await bed.restart({ crash: true });
      assert.ok((await creating) instanceof Error);
      await until('the cut-off container undone', () => !existsSync(join(containers, id)), 30_000);
      const again = bed.daemon.connect('k8s.io');
      const notFound = (err: { code: number }) => err.code === status.NOT_FOUND;
      await assert.rejects(again.unary('containerd.services.containers.v1.Containers', 'Get', { id }), notFound, 'the containerd container is gone');
      await assert.rejects(again.unary('containerd.services.snapshots.v1.Snapshots', 'Stat', { snapshotter: 'overlayfs', key: id }), notFound, 'the snapshot is gone');
      assert.deepEqual((await bed.cri.runtime('ListContainers', {})).containers, []);
      // the line is logged once every unfinished create of this start is undone, a moment after the directory goes
      const undone = new RegExp(`reconciled: cri container ${id}: a CreateContainer cut off by a crash, undone`);
      await until('the undo logged', () => undone.test(bed.daemon.output()), 30_000);
      // the pod lived through the crash, and containers are made in it as before
      await bed.cri.images('PullImage', { image: { image: 'busybox:1.0' } });
      const { container_id: cid } = await bed.cri.runtime('CreateContainer', { pod_sandbox_id: pod, sandbox_config: config, config: { metadata: { name: 'after' }, image: { image: 'busybox:1.0' }, command: ['sleep', '1000'] } });
      assert.ok(!existsSync(join(containers, cid, 'create.json')), 'a finished create leaves no marker');
      await bed.cri.runtime('StartContainer', { container_id: cid });
      assert.equal((await bed.cri.runtime('ContainerStatus', { container_id: cid })).status.state, 'CONTAINER_RUNNING');
    } finally {
      release();
    }
  });
});
