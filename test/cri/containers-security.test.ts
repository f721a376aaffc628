// Containers of a pod under the CRI's security and mount settings, against a real daemon and runc
// in a network namespace of the test's own (crisec-<pid>): seccomp profiles, privileged
// containers and capabilities, host-path mounts with propagation, and a log file reopened after
// rotation. Host-network pods, one privileged so it may hold privileged containers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { criTestbed, podConfig as podConfigOf, skipCri } from '../helpers/cri-testbed.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';

/** The device nodes runc makes in every container. */
const CONTAINER_DEVICES = ['null', 'zero', 'full', 'random', 'urandom', 'tty', 'console', 'ptmx'];

const APPLETS = ['grep', 'cat', 'hostname', 'chmod', 'mkdir', 'mount', 'unshare'];

test('containers in a pod: seccomp, privileged, capabilities, mount propagation, log reopening', { skip: skipCri, timeout: 120_000 }, async (t) => {
  const bed = await criTestbed(t, { tag: 'sec', tools: APPLETS });
  const { cri, daemon } = bed;
  const hostNetwork = { namespace_options: { network: 'NODE' } };
  const podConfig = podConfigOf(bed, 'secure', { linux: { security_context: { privileged: true, ...hostNetwork } } });
  const plainPod = podConfigOf(bed, 'plain', { linux: { security_context: hostNetwork } });
  await cri.images('PullImage', { image: { image: 'busybox:1.0' } });
  await bed.withPod(podConfig, (podId) => bed.withPod(plainPod, (unprivilegedPod) => checkContainers(podId, unprivilegedPod)));

  async function checkContainers(podId: string, unprivilegedPod: string) {

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

  const specOf = async (id: string) => {
    const { container } = await daemon.connect('k8s.io').unary<{ container: { spec: { value: Buffer } } }>('containerd.services.containers.v1.Containers', 'Get', { id });
    return JSON.parse(Buffer.from(container.spec.value).toString()) as { mounts: { destination: string; type: string; options: string[] }[]; linux: Record<string, unknown> };
  };
  const statusField = async (id: string, field: string) => (await exec(id, 'grep', `^${field}:`, '/proc/self/status')).out.split(/\s+/)[1];
  const rejects = (promise: Promise<unknown>, code: number, details: RegExp) =>
    assert.rejects(promise, (err: { code: number; details: string }) => {
      assert.equal(err.code, code, err.details);
      assert.match(err.details, details);
      return true;
    });
  const profiles = tempDir(t);
  const blockChmod = join(profiles, 'block-chmod.json');
  writeFileSync(blockChmod, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['chmod', 'fchmodat', 'fchmodat2'], action: 'SCMP_ACT_ERRNO' }] }));
  const blockHostname = join(profiles, 'block-hostname.json');
  writeFileSync(blockHostname, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['sethostname'], action: 'SCMP_ACT_ERRNO' }] }));

  await t.test('seccomp: runtime/default filters, a localhost profile blocks what it names, unconfined and no profile filter nothing; apparmor only unconfined', async () => {
    const byDefault = await run({ linux: { security_context: { seccomp: { profile_type: 'RuntimeDefault' } } } });
    assert.equal(await statusField(byDefault, 'Seccomp'), '2');
    const unshare = await exec(byDefault, 'unshare', '-U', 'true');
    assert.notEqual(unshare.code, 0, 'unshare is only allowed with CAP_SYS_ADMIN');
    assert.match(unshare.err, /Operation not permitted/);
    // the older field and its docker/default name; SYS_ADMIN opens what the profile keeps for it
    const admin = await run({ linux: { security_context: { seccomp_profile_path: 'docker/default', capabilities: { add_capabilities: ['SYS_ADMIN'] } } } });
    assert.equal(await statusField(admin, 'Seccomp'), '2');
    assert.equal((await exec(admin, 'hostname', 'renamed')).code, 0);

    const local = await run({ linux: { security_context: { seccomp_profile_path: `localhost/${blockChmod}` } } });
    const chmod = await exec(local, 'chmod', '400', '/');
    assert.notEqual(chmod.code, 0);
    assert.match(chmod.err, /Operation not permitted/);
    const localField = await run({ linux: { security_context: { seccomp: { profile_type: 'Localhost', localhost_ref: blockChmod } } } });
    assert.match((await exec(localField, 'chmod', '400', '/')).err, /Operation not permitted/);

    for (const security of [{ seccomp: { profile_type: 'Unconfined' } }, {}]) {
      const free = await run({ linux: { security_context: security } });
      assert.equal(await statusField(free, 'Seccomp'), '0', JSON.stringify(security));
      assert.equal((await exec(free, 'unshare', '-U', 'true')).code, 0);
    }

    const field = /config\.linux\.security_context\.seccomp/;
    await rejects(create({ linux: { security_context: { seccomp_profile_path: blockChmod } } }), status.INVALID_ARGUMENT, /seccomp_profile_path: invalid profile/);
    await rejects(create({ linux: { security_context: { seccomp_profile_path: `localhost/${join(profiles, 'missing.json')}` } } }), status.INVALID_ARGUMENT, field);
    await rejects(create({ linux: { security_context: { seccomp: { profile_type: 'Unconfined', localhost_ref: blockChmod } } } }), status.INVALID_ARGUMENT, /localhost_ref/);
    // no apparmor profile is applied, so none may be asked for; unconfined is what every container gets
    await rejects(create({ linux: { security_context: { apparmor_profile: 'runtime/default' } } }), status.INVALID_ARGUMENT, /apparmor: RuntimeDefault profile asked for/);
    await rejects(create({ linux: { security_context: { apparmor: { profile_type: 'Localhost', localhost_ref: 'mine' } } } }), status.INVALID_ARGUMENT, /apparmor: Localhost profile/);
    await rejects(create({ linux: { security_context: { apparmor_profile: 'mine' } } }), status.INVALID_ARGUMENT, /apparmor_profile: invalid profile "mine"/);
    await create({ linux: { security_context: { apparmor: { profile_type: 'Unconfined' } } } });
  });

  await t.test('privileged: every capability the daemon has, the host devices, no seccomp even when asked, sysfs and cgroupfs writable, nothing masked', async () => {
    const id = await run({ linux: { security_context: { privileged: true, seccomp_profile_path: `localhost/${blockHostname}` } } });
    // the daemon runs with the test's capabilities
    const daemonCaps = /^CapEff:\s*(\S+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))![1];
    assert.equal(await statusField(id, 'CapEff'), daemonCaps);
    assert.equal(await statusField(id, 'Seccomp'), '0');
    assert.equal((await exec(id, 'hostname', 'privileged')).code, 0);
    const mounts = (await exec(id, 'cat', '/proc/mounts')).out;
    assert.match(mounts, /^\S+ \/sys\/fs\/cgroup\S* \S+ rw[,\s]/m, `cgroupfs is writable:\n${mounts}`);
    assert.doesNotMatch(mounts, / \/proc\/(kcore|keys|sys) /, 'no masked or read-only /proc paths');
    // runc binds the host's /sys read-only into a container without a network namespace of its own
    // (this pod's is the host's), so the spec shows what was asked for
    const spec = await specOf(id);
    assert.deepEqual(spec.mounts.filter((m) => ['sysfs', 'cgroup'].includes(m.type)).map((m) => [m.destination, m.options.includes('rw') && !m.options.includes('ro')]), [['/sys', true], ['/sys/fs/cgroup', true]]);
    assert.equal(spec.linux.seccomp, undefined);
    // the host's devices, beyond the few every container has
    const hostDevice = readdirSync('/dev', { withFileTypes: true }).find((e) => (e.isCharacterDevice() || e.isBlockDevice()) && !CONTAINER_DEVICES.includes(e.name))?.name;
    assert.deepEqual((spec.linux.resources as { devices: unknown[] }).devices, [{ allow: true, access: 'rwm' }]);
    if (hostDevice) {
      assert.equal((await exec(id, 'ls', `/dev/${hostDevice}`)).code, 0, `/dev/${hostDevice} is in the privileged container`);
      const plain = await run({});
      assert.notEqual((await exec(plain, 'ls', `/dev/${hostDevice}`)).code, 0, `/dev/${hostDevice} is not in an unprivileged one`);
    }

    await rejects(
      cri.runtime('CreateContainer', { pod_sandbox_id: unprivilegedPod, config: { metadata: { name: 'p' }, image: { image: 'busybox:1.0' }, command: ['sleep', '1'], linux: { security_context: { privileged: true } } }, sandbox_config: plainPod }),
      status.INVALID_ARGUMENT,
      /privileged: no privileged container allowed/,
    );
  });

  await t.test('capabilities: ALL is what the daemon has, dropping ALL leaves none, single names after ALL, unknown ones refused', async () => {
    const daemonBounding = /^CapEff:\s*(\S+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))![1];
    const all = await run({ linux: { security_context: { capabilities: { add_capabilities: ['ALL'] } } } });
    assert.equal(await statusField(all, 'CapBnd'), daemonBounding);
    const none = await run({ linux: { security_context: { capabilities: { drop_capabilities: ['ALL'], add_capabilities: ['NET_ADMIN'] } } } });
    assert.equal(await statusField(none, 'CapBnd'), (1 << 12).toString(16).padStart(16, '0'), 'NET_ADMIN (bit 12) alone');
    const netRaw = 1n << 13n;
    const dropped = await run({ linux: { security_context: { capabilities: { add_capabilities: ['NET_RAW'], drop_capabilities: ['net_raw'] } } } });
    assert.equal(BigInt(`0x${await statusField(dropped, 'CapBnd')}`) & netRaw, 0n, 'a name both added and dropped is dropped');
    await rejects(create({ linux: { security_context: { capabilities: { add_capabilities: ['NET_WIZARD'] } } } }), status.INVALID_ARGUMENT, /capabilities\.add_capabilities: unknown capability "NET_WIZARD"/);
  });

  await t.test('host-path mounts: rshared propagates both ways, rslave from the host only, private not at all; the host mount must allow it', async () => {
    const base = tempDir(t);
    const mounted: string[] = [];
    const hostMount = (dir: string, ...args: string[]) => {
      execFileSync('mount', [...args, dir]);
      mounted.push(dir);
    };
    const hostVolume = (name: string, kind: 'rshared' | 'rprivate') => {
      const dir = join(base, name);
      mkdirSync(join(dir, 'fromhost'), { recursive: true });
      hostMount(dir, '--bind', dir);
      execFileSync('mount', [`--make-${kind}`, dir]);
      return dir;
    };
    const inContainer = async (id: string, path: string) => (await exec(id, 'cat', '/proc/mounts')).out.includes(` ${path} `);
    try {
      for (const [propagation, kind, toContainer, toHost] of [
        ['PROPAGATION_BIDIRECTIONAL', 'rshared', true, true],
        ['PROPAGATION_HOST_TO_CONTAINER', 'rshared', true, false],
        ['PROPAGATION_PRIVATE', 'rprivate', false, false],
      ] as const) {
        const dir = hostVolume(propagation, kind);
        const id = await run({ mounts: [{ host_path: dir, container_path: '/vol', propagation }], linux: { security_context: { privileged: true } } });
        hostMount(join(dir, 'fromhost'), '-t', 'tmpfs', 'hostfs');
        assert.equal(await inContainer(id, '/vol/fromhost'), toContainer, `${propagation}: a host mount reaches the container`);
        assert.equal((await exec(id, 'sh', '-c', 'mkdir -p /vol/fromctr && mount -t tmpfs ctrfs /vol/fromctr')).code, 0);
        assert.equal(readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${join(dir, 'fromctr')} `), toHost, `${propagation}: a container mount reaches the host`);
        assert.deepEqual((await specOf(id)).linux.rootfsPropagation, { PROPAGATION_BIDIRECTIONAL: 'rshared', PROPAGATION_HOST_TO_CONTAINER: 'rslave', PROPAGATION_PRIVATE: undefined }[propagation]);
        await cri.runtime('RemoveContainer', { container_id: id });
      }
      const privateDir = hostVolume('private-only', 'rprivate');
      await rejects(create({ mounts: [{ host_path: privateDir, container_path: '/vol', propagation: 'PROPAGATION_BIDIRECTIONAL' }] }), status.FAILED_PRECONDITION, /config\.mounts\[0\]: .* not shared/);
      await rejects(create({ mounts: [{ host_path: privateDir, container_path: '/vol', propagation: 'PROPAGATION_HOST_TO_CONTAINER' }] }), status.FAILED_PRECONDITION, /neither shared nor a slave/);
      await rejects(create({ mounts: [{ container_path: '/vol' }] }), status.INVALID_ARGUMENT, /config\.mounts\[0\]\.host_path: must be set/);
      // a missing host path is made, as containerd does
      const made = join(base, 'made', 'here');
      await create({ mounts: [{ host_path: made, container_path: '/made' }] });
      assert.ok(existsSync(made));
    } finally {
      for (const dir of mounted.reverse()) spawnSync('umount', ['--lazy', dir]);
    }
  });

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
