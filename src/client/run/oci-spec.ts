// The OCI runtime spec a client sends with a container, built as containerd's Go client builds
// it (oci/spec.go populateDefaultUnixSpec, oci/mounts.go, oci.WithImageConfigArgs, WithTTY).

export const SPEC_TYPE_URL = 'types.containerd.io/opencontainers/runtime-spec/1/Spec';
export const PROCESS_TYPE_URL = 'types.containerd.io/opencontainers/runtime-spec/1/Process';

export interface ProcessSpec {
  terminal?: boolean;
  user: { uid: number; gid: number; additionalGids?: number[] };
  args: string[];
  env: string[];
  cwd: string;
  capabilities?: { bounding: string[]; permitted: string[]; effective: string[] };
  rlimits?: { type: string; hard: number; soft: number }[];
  noNewPrivileges?: boolean;
  oomScoreAdj?: number;
}

export interface RuntimeSpec {
  ociVersion: string;
  process: ProcessSpec;
  root: { path: string; readonly?: boolean };
  hostname?: string;
  mounts: { destination: string; type: string; source: string; options: string[] }[];
  linux: Record<string, unknown>;
  [field: string]: unknown;
}

/** What an image's config says about how to run it (the OCI image config's `config`). */
export interface ImageRunConfig {
  Env?: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  WorkingDir?: string;
  User?: string;
}

const DEFAULT_ENV = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'];

const DEFAULT_CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

const DEFAULT_MOUNTS: RuntimeSpec['mounts'] = [
  { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
  { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
  { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
  { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
  { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
  { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
  { destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
];

/** containerd's default Linux spec for container `id` in `namespace` (cgroup /<namespace>/<id>). */
export function defaultSpec(namespace: string, id: string): RuntimeSpec {
  return {
    ociVersion: '1.0.2-dev',
    root: { path: 'rootfs' },
    process: {
      cwd: '/',
      noNewPrivileges: true,
      user: { uid: 0, gid: 0 },
      args: [],
      env: [...DEFAULT_ENV],
      capabilities: { bounding: [...DEFAULT_CAPABILITIES], permitted: [...DEFAULT_CAPABILITIES], effective: [...DEFAULT_CAPABILITIES] },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
    },
    mounts: DEFAULT_MOUNTS.map((m) => ({ ...m, options: [...m.options] })),
    linux: {
      maskedPaths: ['/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi'],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
      cgroupsPath: `/${namespace}/${id}`,
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      namespaces: ['pid', 'ipc', 'uts', 'mount', 'network'].map((type) => ({ type })),
    },
  };
}

/** `KEY=VALUE` entries of `overrides` replace those of `defaults` with the same key; the rest are appended. */
export function mergeEnv(defaults: readonly string[], overrides: readonly string[]): string[] {
  const key = (entry: string) => entry.split('=', 1)[0]!;
  const merged = [...defaults];
  for (const entry of overrides) {
    const at = merged.findIndex((existing) => key(existing) === key(entry));
    if (at >= 0) merged[at] = entry;
    else merged.push(entry);
  }
  return merged;
}

export interface PasswdEntry {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

/**
 * The image's Env, Entrypoint + Cmd (or `args` in place of Cmd), WorkingDir and User, as
 * oci.WithImageConfigArgs applies them; `passwd` is the rootfs's /etc/passwd (for user names, and
 * the primary group of a numeric user).
 */
export function withImageConfig(spec: RuntimeSpec, config: ImageRunConfig, args: readonly string[], passwd: readonly PasswdEntry[] = []): RuntimeSpec {
  const process = spec.process;
  process.env = mergeEnv(config.Env?.length ? config.Env : DEFAULT_ENV, process.env.filter((e) => !DEFAULT_ENV.includes(e)));
  process.args = [...(config.Entrypoint ?? []), ...(args.length > 0 ? args : (config.Cmd ?? []))];
  process.cwd = config.WorkingDir || '/';
  if (config.User) process.user = resolveUser(config.User, passwd);
  return spec;
}

/** "uid", "uid:gid", "name" or "name:gid", as containerd's WithUser (group names are not looked up). */
export function resolveUser(user: string, passwd: readonly PasswdEntry[]): { uid: number; gid: number } {
  const [name, group] = user.split(':', 2) as [string, string | undefined];
  let entry: { uid: number; gid: number } | undefined;
  if (/^\d+$/.test(name)) entry = passwd.find((e) => e.uid === Number(name)) ?? { uid: Number(name), gid: 0 };
  else entry = passwd.find((e) => e.name === name);
  if (!entry) throw new Error(`no user "${name}" in the image's /etc/passwd`);
  if (group === undefined) return { uid: entry.uid, gid: entry.gid };
  if (!/^\d+$/.test(group)) throw new Error(`group "${group}": only numeric groups are supported`);
  return { uid: entry.uid, gid: Number(group) };
}

/** A terminal: the process gets a pty and TERM=xterm (oci.WithTTY). */
export function withTerminal(spec: RuntimeSpec): RuntimeSpec {
  spec.process.terminal = true;
  spec.process.env = mergeEnv(spec.process.env, ['TERM=xterm']);
  return spec;
}

export function parsePasswd(text: string): PasswdEntry[] {
  return text
    .split('\n')
    .map((line) => line.split(':'))
    .filter(([name, , uid, gid]) => name && /^\d+$/.test(uid ?? '') && /^\d+$/.test(gid ?? ''))
    .map(([name, , uid, gid]) => ({ name: name!, uid: Number(uid), gid: Number(gid) }));
}
