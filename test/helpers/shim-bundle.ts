// Test fixtures for shims: a busybox rootfs from Debian's busybox-static, a minimal OCI runtime
// spec (runc spec's defaults, adapted), and bundles laid out as the daemon lays them out.
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ShimRuntime } from '../../src/shims/runtime/shim-runtime.js';
import { mountPointsUnder, unmountAll } from '../../src/util/mount/index.js';

export const BUSYBOX = '/bin/busybox';
export const skipWithoutRunc: string | false = !existsSync('/usr/sbin/runc') && !existsSync('/usr/bin/runc') ? 'runc is not installed' : !existsSync(BUSYBOX) ? 'busybox-static is not installed' : false;

const APPLETS = ['sh', 'true', 'false', 'sleep', 'cat', 'echo', 'ls', 'ps', 'head', 'env', 'id', 'tail', 'yes', 'stty', 'tty', 'kill'];

/** A root filesystem with a static busybox and its applets. */
export function busyboxRootfs(dir: string): string {
  for (const sub of ['bin', 'proc', 'dev', 'sys', 'tmp', 'etc', 'root']) mkdirSync(join(dir, sub), { recursive: true });
  copyFileSync(BUSYBOX, join(dir, 'bin/busybox'));
  for (const applet of APPLETS) symlinkSync('busybox', join(dir, 'bin', applet));
  writeFileSync(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  return dir;
}

export interface SpecOptions {
  readonly args: string[];
  readonly terminal?: boolean;
  /** cgroupsPath; default /<namespace>/<id> as containerd sets it. */
  readonly cgroupsPath?: string;
  readonly annotations?: Record<string, string>;
  /** Omit the pid namespace (host pids). */
  readonly hostPid?: boolean;
  readonly memoryLimit?: number;
}

/** `runc spec` (runc 1.1) defaults with our process, not read-only, with a cgroup path. */
export function ociSpec(options: SpecOptions): Record<string, unknown> {
  return {
    ociVersion: '1.0.2-dev',
    process: {
      terminal: options.terminal ?? false,
      user: { uid: 0, gid: 0 },
      args: options.args,
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
      cwd: '/',
      capabilities: Object.fromEntries(['bounding', 'effective', 'permitted'].map((k) => [k, ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE']])),
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: false },
    hostname: 'ledger',
    annotations: options.annotations ?? {},
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    ],
    linux: {
      cgroupsPath: options.cgroupsPath,
      resources: { devices: [{ allow: false, access: 'rwm' }], ...(options.memoryLimit ? { memory: { limit: options.memoryLimit, swap: options.memoryLimit } } : {}) },
      namespaces: [...(options.hostPid ? [] : [{ type: 'pid' }]), { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      maskedPaths: ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/sys/firmware'],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}

/** <state>/io.containerd.runtime.v2.task/<ns>/<id> with config.json, as the daemon creates a bundle. */
export function makeBundle(state: string, namespace: string, id: string, spec: Record<string, unknown>): string {
  const bundle = join(state, 'io.containerd.runtime.v2.task', namespace, id);
  mkdirSync(bundle, { recursive: true, mode: 0o700 });
  mkdirSync(join(bundle, 'rootfs'), { mode: 0o711 });
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec));
  return bundle;
}

/**
 * After a test: runc's state directory for the namespace and the namespace's (empty) cgroup
 * parents, which runc leaves behind when it deletes a container.
 */
export function removeNamespaceLeftovers(namespace: string): void {
  const dirs = [join('/run/containerd/runc', namespace)];
  for (const controller of safeReaddir('/sys/fs/cgroup')) dirs.push(join('/sys/fs/cgroup', controller, namespace));
  for (const dir of dirs) {
    try {
      rmdirSync(dir);
    } catch {
      // not there, or still in use: left alone
    }
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * After a ShimRuntime test, in this order: every task of the namespace killed, waited for and
 * deleted, each runtime closed, runc's state of the namespace removed, then the test directory
 * (unmounted first: never removed through a mount).
 */
export async function endRuntimes(runtimes: readonly ShimRuntime[], namespace: string, dir: string): Promise<void> {
  for (const runtime of runtimes) {
    for (const task of runtime.list(namespace)) {
      await task.kill(9, { all: true }).catch(() => {});
      await task.wait().catch(() => {});
      await task.delete().catch(() => {});
    }
    await runtime.close();
  }
  rmSync(`/run/containerd/runc/${namespace}`, { recursive: true, force: true });
  for (const point of mountPointsUnder(dir)) await unmountAll(point);
  rmSync(dir, { recursive: true, force: true });
}

export { until } from './until.js';
