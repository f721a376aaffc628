// The cgroup of a container, found from its init pid (containerd's cgroups.Load(V1, PidPath) /
// cgroupsv2.PidGroupPath), and its statistics as io.containerd.cgroups.v1.Metrics read from the
// cgroup files (containerd/cgroups *.Stat).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BLKIO_FILES, MEMORY_STAT_FIELD, METRICS_V1_TYPE_URL, MetricsV1 } from '../wire/protocol/metrics-v1.js';
import { encode, type AnyValue, type Message } from '../wire/protocol/protowire.js';

const CGROUP_ROOT = '/sys/fs/cgroup';
/** cpuacct.stat counts in USER_HZ ticks (100 on Linux); Metrics wants nanoseconds. */
const NS_PER_TICK = 10_000_000;

export const isUnified = (): boolean => existsSync(join(CGROUP_ROOT, 'cgroup.controllers'));

export type Cgroup = { readonly version: 1; readonly paths: ReadonlyMap<string, string> } | { readonly version: 2; readonly path: string };

/** Where each v1 hierarchy is mounted, by controller name (from /proc/self/mountinfo). */
function v1Mounts(): Map<string, string> {
  const mounts = new Map<string, string>();
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const [fsType, , superOptions] = line.slice(sep + 3).split(' ');
    if (fsType !== 'cgroup') continue;
    const mountPoint = line.slice(0, sep).split(' ')[4]!;
    for (const option of (superOptions ?? '').split(',')) mounts.set(option, mountPoint);
  }
  return mounts;
}

/** The cgroup of a live process, or undefined when it has gone. */
export function cgroupOf(pid: number): Cgroup | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  } catch {
    return undefined;
  }
  if (isUnified()) {
    const line = text.split('\n').find((l) => l.startsWith('0::'));
    return line ? { version: 2, path: join(CGROUP_ROOT, line.slice(3)) } : undefined;
  }
  const mounts = v1Mounts();
  const paths = new Map<string, string>();
  for (const line of text.split('\n')) {
    const [, controllers, path] = line.split(':', 3) as [string, string?, string?];
    if (!controllers || path === undefined) continue;
    for (const controller of controllers.split(',')) {
      const mount = mounts.get(controller);
      if (mount) paths.set(controller, join(mount, path));
    }
  }
  return { version: 1, paths };
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** A uint64 from cgroup text: exact (a bigint) beyond 2^53, such as the "unlimited" 9223372036854771712. */
function toUint(text: string | undefined): number | bigint {
  if (!text || !/^\d+$/.test(text)) return 0;
  return text.length > 15 ? BigInt(text) : Number(text);
}

function readUint(path: string): number | bigint {
  return toUint(readText(path)?.trim());
}

/** "key value" lines as a map. */
function readKeyValues(path: string): Map<string, number | bigint> {
  const values = new Map<string, number | bigint>();
  for (const line of (readText(path) ?? '').split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value !== undefined) values.set(key, toUint(value));
  }
  return values;
}

function deviceNames(): Map<string, string> {
  const names = new Map<string, string>();
  for (const line of (readText('/proc/partitions') ?? '').split('\n').slice(2)) {
    const [major, minor, , name] = line.trim().split(/\s+/);
    if (name) names.set(`${major}:${minor}`, `/dev/${name}`);
  }
  return names;
}

function blkioEntries(path: string, devices: Map<string, string>): Message[] {
  const entries: Message[] = [];
  for (const line of (readText(path) ?? '').split('\n')) {
    const fields = line.trim().split(/[\s:]+/).filter(Boolean);
    if (fields.length < 3) continue; // "Total N" and blank lines
    const [major, minor] = fields;
    const op = fields.length === 4 ? fields[2]! : '';
    entries.push({ op, device: devices.get(`${major}:${minor}`) ?? '', major: Number(major), minor: Number(minor), value: toUint(fields[fields.length - 1]) });
  }
  return entries;
}

/** Metrics of a cgroup v1 container, as containerd's cgroups v1 Stat (missing controllers are skipped). */
export function statsV1(paths: ReadonlyMap<string, string>): Message {
  const metrics: Message = {};
  const pids = paths.get('pids');
  if (pids && existsSync(pids)) metrics.pids = { current: readUint(join(pids, 'pids.current')), limit: readUint(join(pids, 'pids.max')) };

  const cpuacct = paths.get('cpuacct');
  const cpu = paths.get('cpu');
  if (cpuacct && existsSync(cpuacct)) {
    const stat = readKeyValues(join(cpuacct, 'cpuacct.stat'));
    const perCpu = (readText(join(cpuacct, 'cpuacct.usage_percpu')) ?? '').trim().split(/\s+/).filter(Boolean).map(toUint);
    const throttle = cpu && existsSync(cpu) ? readKeyValues(join(cpu, 'cpu.stat')) : new Map<string, number>();
    metrics.cpu = {
      usage: {
        total: readUint(join(cpuacct, 'cpuacct.usage')),
        kernel: Number(stat.get('system') ?? 0) * NS_PER_TICK,
        user: Number(stat.get('user') ?? 0) * NS_PER_TICK,
        per_cpu: perCpu,
      },
      throttling: { periods: throttle.get('nr_periods') ?? 0, throttled_periods: throttle.get('nr_throttled') ?? 0, throttled_time: throttle.get('throttled_time') ?? 0 },
    };
  }

  const memory = paths.get('memory');
  if (memory && existsSync(memory)) {
    const stat: Message = {};
    for (const [key, value] of readKeyValues(join(memory, 'memory.stat'))) {
      const field = MEMORY_STAT_FIELD.get(key);
      if (field) stat[field] = value;
    }
    const entry = (module: string): Message => {
      const prefix = join(memory, module ? `memory.${module}.` : 'memory.');
      return { usage: readUint(`${prefix}usage_in_bytes`), max: readUint(`${prefix}max_usage_in_bytes`), failcnt: readUint(`${prefix}failcnt`), limit: readUint(`${prefix}limit_in_bytes`) };
    };
    metrics.memory = { ...stat, usage: entry(''), swap: entry('memsw'), kernel: entry('kmem'), kernel_tcp: entry('kmem.tcp') };
    const oom = readKeyValues(join(memory, 'memory.oom_control'));
    metrics.memory_oom_control = { oom_kill_disable: oom.get('oom_kill_disable') ?? 0, under_oom: oom.get('under_oom') ?? 0, oom_kill: oom.get('oom_kill') ?? 0 };
  }

  const blkio = paths.get('blkio');
  if (blkio && existsSync(blkio)) {
    const devices = deviceNames();
    const stat: Message = {};
    let size = 0;
    if (existsSync(join(blkio, 'blkio.io_serviced_recursive'))) {
      for (const [field, file] of BLKIO_FILES) {
        const entries = blkioEntries(join(blkio, `blkio.${file}`), devices);
        stat[field] = entries;
        size += entries.length;
      }
    }
    if (size === 0) {
      // no CFQ statistics (other schedulers): the throttle counters, as containerd falls back to
      stat.io_serviced_recursive = blkioEntries(join(blkio, 'blkio.throttle.io_serviced'), devices);
      stat.io_service_bytes_recursive = blkioEntries(join(blkio, 'blkio.throttle.io_service_bytes'), devices);
    }
    metrics.blkio = stat;
  }

  const hugetlb = paths.get('hugetlb');
  if (hugetlb && existsSync(hugetlb)) {
    metrics.hugetlb = hugePageSizes().map((pagesize) => {
      const prefix = join(hugetlb, `hugetlb.${pagesize}.`);
      return { pagesize, usage: readUint(`${prefix}usage_in_bytes`), max: readUint(`${prefix}max_usage_in_bytes`), failcnt: readUint(`${prefix}failcnt`) };
    });
  }
  return metrics;
}

/** Huge page sizes as the hugetlb controller names them ("2MB", "1GB"). */
function hugePageSizes(): string[] {
  try {
    return readdirSync('/sys/kernel/mm/hugepages').map((dir) => {
      const kb = Number(dir.replace(/^hugepages-/, '').replace(/kB$/, ''));
      return kb >= 1 << 20 ? `${kb >> 20}GB` : kb >= 1 << 10 ? `${kb >> 10}MB` : `${kb}KB`;
    });
  } catch {
    return [];
  }
}

/** The Stats answer for a container's cgroup: an Any holding the Metrics. */
export function statsAny(cgroup: Cgroup): AnyValue {
  if (cgroup.version === 1) return { type_url: METRICS_V1_TYPE_URL, value: encode(MetricsV1, statsV1(cgroup.paths)) };
  throw new Error('cgroup v2 statistics are not implemented by this shim');
}
