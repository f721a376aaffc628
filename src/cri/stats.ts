// A container's resource use from its cgroup, as the CRI reports it (pkg/cri/server/
// container_stats_list_linux.go): CPU time used, and memory as usage and working set (usage less
// the inactive file cache, what kubelet evicts on). cgroup v1 (cpuacct, memory hierarchies) and
// v2 (one unified hierarchy), found through /proc/<pid>/cgroup.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface CgroupStats {
  readonly cpuNanos: number;
  readonly memoryUsage: number;
  readonly workingSet: number;
  readonly rss: number;
}

const CGROUP_ROOT = '/sys/fs/cgroup';

const readNumber = async (path: string) => Number((await readFile(path, 'utf8')).trim());

async function statFile(path: string): Promise<Record<string, number>> {
  const entries = (await readFile(path, 'utf8')).split('\n').map((line) => line.split(' '));
  return Object.fromEntries(entries.filter(([k, v]) => k && v).map(([k, v]) => [k!, Number(v)]));
}

/** The stats of the cgroup process `pid` is in; undefined when it is gone. */
export async function cgroupStats(pid: number): Promise<CgroupStats | undefined> {
  let lines: string[];
  try {
    lines = (await readFile(`/proc/${pid}/cgroup`, 'utf8')).trim().split('\n');
  } catch {
    return undefined;
  }
  const paths = new Map<string, string>();
  for (const line of lines) {
    const [, controllers = '', path = '/'] = line.split(':');
    for (const controller of controllers.split(',')) paths.set(controller, path);
  }
  try {
    const cpuacct = paths.get('cpuacct');
    const memory = paths.get('memory');
    if (cpuacct !== undefined && memory !== undefined) {
      const cpuDir = (await readFile(join(CGROUP_ROOT, 'cpuacct', cpuacct, 'cpuacct.usage')).then(() => 'cpuacct', () => 'cpu,cpuacct'));
      const memDir = join(CGROUP_ROOT, 'memory', memory);
      const usage = await readNumber(join(memDir, 'memory.usage_in_bytes'));
      const stat = await statFile(join(memDir, 'memory.stat'));
      return {
        cpuNanos: await readNumber(join(CGROUP_ROOT, cpuDir, cpuacct, 'cpuacct.usage')),
        memoryUsage: usage,
        workingSet: Math.max(0, usage - (stat.total_inactive_file ?? 0)),
        rss: stat.total_rss ?? 0,
      };
    }
    const dir = join(CGROUP_ROOT, paths.get('') ?? '/');
    const cpu = await statFile(join(dir, 'cpu.stat'));
    const usage = await readNumber(join(dir, 'memory.current'));
    const stat = await statFile(join(dir, 'memory.stat'));
    return { cpuNanos: (cpu.usage_usec ?? 0) * 1000, memoryUsage: usage, workingSet: Math.max(0, usage - (stat.inactive_file ?? 0)), rss: stat.anon ?? 0 };
  } catch {
    return undefined;
  }
}
