// What a daemon leaves in the world, for the crash tests and the torture: its shim processes
// and their children, the descriptors they hold, task bundles and the mounts under a directory.
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** This checkout's shim: the tests' daemons run it (config `shim_binaries`), not whatever PATH has. */
export const OWN_SHIM = fileURLToPath(new URL('../../../bin/containerd-shim-ledger-v1', import.meta.url));

/** A config file for a test daemon that runs this checkout's shim for runc containers. */
export function ownShimConfig(dir: string, extra = ''): string {
  const path = join(dir, 'config.toml');
  writeFileSync(path, ['version = 2', '[plugins."io.containerd.runtime.v2.task".shim_binaries]', `"io.containerd.runc.v2" = "${OWN_SHIM}"`, extra, ''].join('\n'));
  return path;
}

const readOr = (path: string, fallback: string): string => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
};

const pids = (): number[] => readdirSync('/proc').filter((name) => /^\d+$/.test(name)).map(Number);

/** Parent pid of a process, or undefined when it is gone. */
export function parentOf(pid: number): number | undefined {
  const stat = readOr(`/proc/${pid}/stat`, '');
  if (!stat) return undefined;
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/** Whether a process exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  return /^State:\s+[^Z]/m.test(readOr(`/proc/${pid}/status`, ''));
}

/** Shims (warm, started or serving) of the daemon at `address`: their environment names its ttrpc socket. */
export function shimsOf(address: string): number[] {
  const marker = `\0TTRPC_ADDRESS=${address}.ttrpc\0`;
  return pids().filter((pid) => isAlive(pid) && `\0${readOr(`/proc/${pid}/environ`, '')}`.includes(marker));
}

/** The processes below `roots` (children, grandchildren...), roots excluded. */
export function descendantsOf(roots: readonly number[]): number[] {
  const children = new Map<number, number[]>();
  for (const pid of pids()) {
    const parent = parentOf(pid);
    if (parent !== undefined) children.set(parent, [...(children.get(parent) ?? []), pid]);
  }
  const found: number[] = [];
  const queue = [...roots];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

/** Descriptors of `pid` that point under `dir`: `fd -> path`. */
export function descriptorsUnder(pid: number, dir: string): string[] {
  const held: string[] = [];
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return held;
  }
  for (const fd of fds) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (target.startsWith(`${dir}/`)) held.push(`${fd} -> ${target}`);
    } catch {
      // closed meanwhile
    }
  }
  return held;
}

/** Task bundles under a daemon's state directory: `namespace/id`. */
export function bundlesIn(state: string): string[] {
  const dir = join(state, 'io.containerd.runtime.v2.task');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((ns) => readdirSync(join(dir, ns)).filter((id) => !id.startsWith('.')).map((id) => `${ns}/${id}`));
}

/** Mount points at or under `dir`, from this process's mountinfo. */
export function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((point): point is string => point !== undefined && (point === dir || point.startsWith(`${dir}/`)));
}

/** SIGKILLs every shim of the daemon at `address` and what runs below them (a test's own). */
export function killShimsOf(address: string): void {
  const shims = shimsOf(address);
  for (const pid of [...descendantsOf(shims), ...shims]) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}
