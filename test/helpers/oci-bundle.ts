import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, copyFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const BUSYBOX = '/bin/busybox';
export const RUNC_SHIM = '/usr/bin/containerd-shim-runc-v2';

/** Why the container tests cannot run here, or undefined when they can. */
export function containerSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root';
  for (const binary of [BUSYBOX, RUNC_SHIM, '/usr/sbin/runc']) if (!existsSync(binary)) return `${binary} is not installed`;
  return undefined;
}

/**
 * A root filesystem of Debian's busybox-static: /bin/busybox plus a symlink per applet (sh,
 * true, sleep, cat...), /etc/passwd, /tmp and the mount points runc needs.
 */
export function busyboxRootfs(dir: string): string {
  const applets = execFileSync(BUSYBOX, ['--list-full'], { encoding: 'utf8' })
    .split('\n')
    .filter((a) => a !== '' && a !== 'bin/busybox' && a !== 'linuxrc');
  mkdirSync(join(dir, 'bin'), { recursive: true });
  copyFileSync(BUSYBOX, join(dir, 'bin/busybox'));
  for (const applet of applets) {
    mkdirSync(dirname(join(dir, applet)), { recursive: true });
    symlinkSync('/bin/busybox', join(dir, applet));
  }
  for (const d of ['proc', 'sys', 'dev', 'tmp', 'etc']) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  return dir;
}

export interface SpecOptions {
  readonly args: readonly string[];
  readonly cgroupsPath?: string;
  readonly env?: readonly string[];
  readonly terminal?: boolean;
  readonly annotations?: Record<string, string>;
  /** No pid namespace: the container's processes are host processes. */
  readonly hostPid?: boolean;
  /** linux.resources.memory limit (and swap limit), bytes. */
  readonly memoryLimit?: number;
}

const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** A runtime-spec Process: what an exec's spec Any carries (and the init's process). */
export function ociProcess(args: readonly string[], env: readonly string[] = [PATH_ENV]) {
  return { terminal: false, user: { uid: 0, gid: 0 }, args: [...args], env: [...env], cwd: '/', noNewPrivileges: true };
}

/** An OCI runtime spec as `runc spec` writes it (without a terminal), rootfs at <bundle>/rootfs. */
export function ociSpec(options: SpecOptions): Record<string, unknown> {
  return {
    ociVersion: '1.0.2-dev',
    process: { ...ociProcess(options.args, options.env), terminal: options.terminal ?? false },
    root: { path: 'rootfs', readonly: false },
    hostname: 'ledgerd-test',
    ...(options.annotations ? { annotations: options.annotations } : {}),
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    ],
    linux: {
      ...(options.cgroupsPath ? { cgroupsPath: options.cgroupsPath } : {}),
      resources: { devices: [{ allow: false, access: 'rwm' }], ...(options.memoryLimit ? { memory: { limit: options.memoryLimit, swap: options.memoryLimit } } : {}) },
      namespaces: [...(options.hostPid ? [] : [{ type: 'pid' }]), { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      maskedPaths: ['/proc/kcore', '/proc/keys', '/sys/firmware'],
      readonlyPaths: ['/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}
