// How a shim server process is run (its V8 flags), and what the process that starts one does to
// it before handing out its address (containerd's runc shim manager Start): join
// options.shim_cgroup, and an oom_score_adj one above the daemon's, so the OOM killer takes the
// shim before the daemon. Used by the `start` action and by ledgerd's warm shims.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const CGROUP_ROOT = '/sys/fs/cgroup';

/**
 * V8 settings of the long-running shim, which is small and mostly idle: a 1 MiB young
 * generation, no optimizing compiler (lite mode), and gc() exposed for the periodic collection
 * (as containerd's shim frees memory every 30 s). Together: ~4 MiB less private memory.
 */
export const SERVER_NODE_FLAGS = ['--max-semi-space-size=1', '--lite-mode', '--expose-gc'];

/** Moves `pid` into `cgroup` in every v1 hierarchy that has it, or in the v2 one. */
export function joinShimCgroup(pid: number, cgroup: string): void {
  const candidates = [CGROUP_ROOT, ...listDirs(CGROUP_ROOT)].map((root) => join(root, cgroup, 'cgroup.procs'));
  let joined = false;
  for (const procs of candidates) {
    try {
      writeFileSync(procs, String(pid));
      joined = true;
    } catch {
      // this hierarchy has no such cgroup
    }
  }
  if (!joined) throw new Error(`failed to join cgroup ${cgroup}`);
}

/** The shim's oom_score_adj: the daemon's + 1 (clamped to the kernel's range). */
export function adjustOomScore(pid: number, daemonPid: number): void {
  const daemon = Number(readFileSync(`/proc/${daemonPid}/oom_score_adj`, 'utf8').trim());
  writeFileSync(`/proc/${pid}/oom_score_adj`, String(Math.min(1000, Math.max(-1000, daemon + 1))));
}

function listDirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => join(dir, d.name));
  } catch {
    return [];
  }
}
