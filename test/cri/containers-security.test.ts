// Containers of a pod under the CRI's security and mount settings, against a real daemon and runc
// in a network namespace of the test's own (crisec-<pid>): seccomp profiles, privileged
// containers and capabilities, host-path mounts with propagation, and a log file reopened after
// rotation. One host-network pod (no CNI needed), privileged so it may hold privileged containers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { startTestDaemon } from '../helpers/daemon.js';
import { buildImage, busyboxEntries, skipWithoutRegistry } from '../helpers/registry.js';
import { criClient, registryInNetns, testNetns, writeCriConfig } from '../helpers/cri.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';

const skip = process.getuid?.() !== 0 ? 'needs root (network namespaces, runc)' : skipWithoutRegistry;

const APPLETS = ['sleep', 'grep', 'hostname', 'chmod', 'touch', 'mkdir', 'mount', 'unshare', 'sed'];

test('containers in a pod: seccomp, privileged, capabilities, mount propagation, log reopening', { skip, timeout: 120_000 }, async (t) => {
  const inNetns = testNetns(t, 'crisec');
  const tools = [...busyboxEntries(), ...APPLETS.map((a) => ({ name: `bin/${a}`, type: 'symlink' as const, linkname: 'busybox' }))];
  const registry = await registryInNetns(t, inNetns, [
    { repository: 'pause', tag: '3.6', image: await buildImage([tools], { cmd: ['/bin/sleep', 'infinity'] }) },
    { repository: 'library/busybox', tag: '1.0', image: await buildImage([tools]) },
  ]);
  const dir = tempDir(t);
  const { config } = writeCriConfig(dir, registry.host);
  const daemon = await startTestDaemon(t, { dir: join(dir, 'daemon'), args: ['-c', config], wrap: inNetns });
  const cri = criClient(t, daemon.address);

  const podConfig = {
    metadata: { name: 'secure', uid: 'uid-sec', namespace: 'default', attempt: 0 },
    log_directory: join(dir, 'pod-logs'),
    linux: { security_context: { privileged: true, namespace_options: { network: 'NODE' } } },
  };
  const { pod_sandbox_id: podId } = await cri.runtime('RunPodSandbox', { config: podConfig });
  try {
    await cri.images('PullImage', { image: { image: 'busybox:1.0' } });
    await checkContainers();
  } finally {
    // whatever failed, the pod's processes and mounts go before the test's directories
    await cri.runtime('RemovePodSandbox', { pod_sandbox_id: podId }).catch(() => undefined);
  }

  async function checkContainers() {

  let attempt = 0;
  const create = async (config: Record<string, unknown>) => {
    const { container_id: id } = await cri.runtime('CreateContainer', {
      pod_sandbox_id: podId,
      config: { metadata: { name: 'c', attempt: attempt++ }, image: { image: 'busybox:1.0' }, command: ['sleep', '1000'], ...config },
      sandbox_config: podConfig,
    });
    return id as string;
  };
  const run = async (config: Record<string, unknown>) => {
    const id = await create(config);
    await cri.runtime('StartContainer', { container_id: id });
    return id;
  };
  const exec = async (id: string, ...cmd: string[]) => {
    const r = await cri.runtime('ExecSync', { container_id: id, cmd, timeout: 10 });
    return { out: Buffer.from(r.stdout).toString(), err: Buffer.from(r.stderr).toString(), code: r.exit_code as number };
  };

  await t.test('ReopenContainerLog: output goes to a new file at the log path, the rotated one stops growing', async () => {
    const id = await run({ command: ['sh', '-c', 'while true; do echo tick; sleep 0.1; done'], log_path: 'ticker.log' });
    const logPath = join(podConfig.log_directory, 'ticker.log');
    await until('the first log lines', () => existsSync(logPath) && readFileSync(logPath, 'utf8').includes('stdout F tick'));
    renameSync(logPath, `${logPath}.1`);
    await cri.runtime('ReopenContainerLog', { container_id: id });
    assert.ok(existsSync(logPath), 'the new file exists when the call returns');
    await until('lines in the new file', () => readFileSync(logPath, 'utf8').includes('stdout F tick'));
    const rotated = readFileSync(`${logPath}.1`, 'utf8');
    await until('more lines in the new file', () => readFileSync(logPath, 'utf8').split('\n').length > 3);
    assert.equal(readFileSync(`${logPath}.1`, 'utf8'), rotated, 'the rotated file gets nothing more');

    await cri.runtime('StopContainer', { container_id: id, timeout: 0 });
    await assert.rejects(cri.runtime('ReopenContainerLog', { container_id: id }), (err: { code: number; details: string }) => {
      assert.equal(err.code, status.FAILED_PRECONDITION);
      assert.match(err.details, /not running/);
      return true;
    });
  });
  }
});
