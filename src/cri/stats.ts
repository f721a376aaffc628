// A container's resource use from its cgroup, as the CRI reports it (pkg/cri/server/
// container_stats_list_linux.go): CPU time used, and memory as usage and working set (usage less
// the inactive file cache, what kubelet evicts on), page faults, what is left under the limit, and
// process counts; a pod's network use from its network namespace (/proc/<pid>/net/dev). cgroup v1 (cpuacct, memory hierarchies) and
// v2 (one unified hierarchy), found through /proc/<pid>/cgroup.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface CgroupStats {
  readonly cpuNanos: number;
  readonly memoryUsage: number;
  readonly workingSet: number;
  readonly rss: number;
  readonly pageFaults: number;
  readonly majorPageFaults: number;
  /** The limit less the working set; undefined without a limit. */
  readonly availableBytes?: number;
  /** Processes in the cgroup (pids controller). */
  readonly processes?: number;
}

const CGROUP_ROOT = '/sys/fs/cgroup';

const readNumber = async (path: string) => Number((await readFile(path, 'utf8')).trim());

async function statFile(path: string): Promise<Record<string, number>> {
  const entries = (await readFile(path, 'utf8')).split('\n').map((line) => line.split(' '));
  return Object.fromEntries(entries.filter(([k, v]) => k && v).map(([k, v]) => [k!, Number(v)]));
}

/** Where each controller of a cgroup is: v1 controller -> path, or '' -> the unified path (v2). */
type CgroupPaths = Map<string, string>;

/** The cgroup process `pid` is in (from /proc/<pid>/cgroup); undefined when it is gone. */
async function cgroupOf(pid: number): Promise<CgroupPaths | undefined> {
  let lines: string[];
  try {
    lines = (await readFile(`/proc/${pid}/cgroup`, 'utf8')).trim().split('\n');
  } catch {
    return undefined;
  }
  const paths: CgroupPaths = new Map();
  for (const line of lines) {
    const [, controllers = '', path = '/'] = line.split(':');
    for (const controller of controllers.split(',')) paths.set(controller, path);
  }
  return paths;
}

/** The stats of the cgroup process `pid` is in; undefined when it is gone. */
export async function cgroupStats(pid: number): Promise<CgroupStats | undefined> {
  const paths = await cgroupOf(pid);
  return paths && statsAt(paths);
}

/**
 * The stats of the cgroup at `path` (a pod's cgroup parent), in whichever hierarchy the process
 * `pid` shows: every v1 controller at that path, or the unified one.
 */
export async function cgroupStatsAt(path: string, pid: number): Promise<CgroupStats | undefined> {
  const paths = await cgroupOf(pid);
  if (!paths) return undefined;
  return statsAt(new Map([...paths.keys()].map((controller) => [controller, path])));
}

// v1's "no limit" is a page-rounded LONG_MAX; v2 says "max"
const limitOf = (value: number) => (Number.isFinite(value) && value < 2 ** 62 ? value : undefined);

async function statsAt(paths: CgroupPaths): Promise<CgroupStats | undefined> {
  try {
    const cpuacct = paths.get('cpuacct');
    const memory = paths.get('memory');
    if (cpuacct !== undefined && memory !== undefined) {
      const cpuDir = await readFile(join(CGROUP_ROOT, 'cpuacct', cpuacct, 'cpuacct.usage')).then(() => 'cpuacct', () => 'cpu,cpuacct');
      const memDir = join(CGROUP_ROOT, 'memory', memory);
      const usage = await readNumber(join(memDir, 'memory.usage_in_bytes'));
      const stat = await statFile(join(memDir, 'memory.stat'));
      const pids = paths.get('pids');
      return withAvailable({
        cpuNanos: await readNumber(join(CGROUP_ROOT, cpuDir, cpuacct, 'cpuacct.usage')),
        memoryUsage: usage,
        workingSet: Math.max(0, usage - (stat.total_inactive_file ?? 0)),
        rss: stat.total_rss ?? 0,
        pageFaults: stat.total_pgfault ?? 0,
        majorPageFaults: stat.total_pgmajfault ?? 0,
        processes: pids === undefined ? undefined : await readNumber(join(CGROUP_ROOT, 'pids', pids, 'pids.current')).catch(() => undefined),
      }, limitOf(await readNumber(join(memDir, 'memory.limit_in_bytes'))));
    }
    const dir = join(CGROUP_ROOT, paths.get('') ?? '/');
    const cpu = await statFile(join(dir, 'cpu.stat'));
    const usage = await readNumber(join(dir, 'memory.current'));
    const stat = await statFile(join(dir, 'memory.stat'));
    return withAvailable({
      cpuNanos: (cpu.usage_usec ?? 0) * 1000,
      memoryUsage: usage,
      workingSet: Math.max(0, usage - (stat.inactive_file ?? 0)),
      rss: stat.anon ?? 0,
      pageFaults: stat.pgfault ?? 0,
      majorPageFaults: stat.pgmajfault ?? 0,
      processes: await readNumber(join(dir, 'pids.current')).catch(() => undefined),
    }, limitOf(await readNumber(join(dir, 'memory.max')).catch(() => NaN)));
  } catch {
    return undefined;
  }
}

/** containerd's getAvailableBytes: what is left under the limit, for a cgroup that has one. */
const withAvailable = (stats: CgroupStats, limit: number | undefined): CgroupStats => ({ ...stats, availableBytes: limit === undefined ? undefined : Math.max(0, limit - stats.workingSet) });

/** Received and sent bytes and errors per interface of the network namespace process `pid` is in. */
export async function networkStats(pid: number): Promise<InterfaceStats[]> {
  const text = await readFile(`/proc/${pid}/net/dev`, 'utf8').catch(() => '');
  return text
    .split('\n')
    .slice(2)
    .map((line) => /^\s*([^:]+):\s*(.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => {
      const f = m[2]!.trim().split(/\s+/).map(Number);
      return { name: m[1]!, rxBytes: f[0]!, rxErrors: f[2]!, txBytes: f[8]!, txErrors: f[10]! };
    });
}

export interface InterfaceStats {
  readonly name: string;
  readonly rxBytes: number;
  readonly rxErrors: number;
  readonly txBytes: number;
  readonly txErrors: number;
}

/** The stats of several cgroups together (a pod without a cgroup parent of its own: pause and containers). */
export function sumStats(all: readonly (CgroupStats | undefined)[]): CgroupStats | undefined {
  const present = all.filter((s): s is CgroupStats => s !== undefined);
  if (present.length === 0) return undefined;
  const sum = (pick: (s: CgroupStats) => number | undefined) => present.reduce((total, s) => total + (pick(s) ?? 0), 0);
  return {
    cpuNanos: sum((s) => s.cpuNanos),
    memoryUsage: sum((s) => s.memoryUsage),
    workingSet: sum((s) => s.workingSet),
    rss: sum((s) => s.rss),
    pageFaults: sum((s) => s.pageFaults),
    majorPageFaults: sum((s) => s.majorPageFaults),
    processes: present.some((s) => s.processes !== undefined) ? sum((s) => s.processes) : undefined,
  };
}
