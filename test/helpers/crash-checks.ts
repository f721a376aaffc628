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

/** A process's working directory (a shim's is its first container's bundle), for messages. */
export function workingDirectoryOf(pid: number): string {
  try {
    return readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return '?';
  }
}

/** What each open descriptor of `pid` points to: `[fd, target]` (none once it is gone). */
function descriptorsOf(pid: number): [string, string][] {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return [];
  }
  return fds.flatMap((fd): [string, string][] => {
    try {
      return [[fd, readlinkSync(`/proc/${pid}/fd/${fd}`)]];
    } catch {
      return []; // closed meanwhile
    }
  });
}

/** Paths of the unix sockets `pid` holds open (a shim's listening socket is one). */
export function unixSocketsOf(pid: number): Set<string> {
  const inodes = new Set(descriptorsOf(pid).map(([, target]) => /^socket:\[(\d+)\]$/.exec(target)?.[1]).filter(Boolean));
  const paths = new Set<string>();
  for (const line of readOr('/proc/net/unix', '').split('\n').slice(1)) {
    const [, , , , , , inode, path] = line.trim().split(/\s+/);
    if (path && inodes.has(inode)) paths.add(path);
  }
  return paths;
}

/**
 * Shims of the daemon at `address` that serve nothing, once the daemon (pid `daemonPid`) lists
 * `tasks` of `namespace`: not its own warm pool (its children), no process below them, and no
 * listed task's bundle names their socket. A stopped task keeps its shim, with no process left
 * under it, until the task is deleted: that shim serves it.
 */
export function idleShims(address: string, daemonPid: number | undefined, state: string, namespace: string, tasks: Iterable<string>): number[] {
  const shims = shimsOf(address).filter((pid) => parentOf(pid) !== daemonPid);
  const withProcesses = new Set(descendantsOf(shims).map((pid) => parentOf(pid)));
  const taskSockets = new Set(
    [...tasks].map((id) => readOr(join(state, 'io.containerd.runtime.v2.task', namespace, id, 'address'), '').trim().replace(/^unix:\/\//, '')).filter(Boolean),
  );
  return shims.filter((pid) => !withProcesses.has(pid) && ![...unixSocketsOf(pid)].some((path) => taskSockets.has(path)));
}

/** Descriptors of `pid` that point under `dir`: `fd -> path`. */
export function descriptorsUnder(pid: number, dir: string): string[] {
  return descriptorsOf(pid)
    .filter(([, target]) => target.startsWith(`${dir}/`))
    .map(([fd, target]) => `${fd} -> ${target}`);
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
