// Memory per running container, ledgerd (its own shim, the default) and real containerd 1.6
// (containerd-shim-runc-v2) side by side in one run: 10 detached busybox `sleep` containers
// started with the real `ctr`. Layouts: `default` (containerd: one shim each; ledgerd: packed,
// up to tasks_per_shim = 8 a shim), `1_per_shim` (ledgerd with tasks_per_shim = 1, a second
// daemon) and `group` (`--annotation io.containerd.runc.v2.group=…`, one shim for all). For
// each daemon and layout:
//   daemon_rss: the daemon's resident set
//   shim_rss / shim_pss / shim_private per container: the shims that are the containers' parents
//     (PSS shares the pages node's (or Go's) binary maps among all processes that map them; a
//     shim's private pages are what one more shim costs)
//   warm_idle_pss: ledgerd's idle warm shims (booted ahead for the next task), all together
//   per_container_pss: (shims' PSS + idle warm shims' PSS) / containers: what each container
//     costs beyond its own processes
// Usage: node dist/bench/containers-memory.js [--containers 10] [--port 5141]   (root)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { harnessImages } from '../test/helpers/harness-services.js';
import { report } from './report.js';
import { startLedgerd, startServices } from './services.js';

const { values } = parseArgs({ options: { containers: { type: 'string', default: '10' }, port: { type: 'string', default: '5141' } } });
const N = Number(values.containers);
const NS = `bench-memory-${process.pid}`;
const IMAGE = `127.0.0.1:${values.port}/busybox:latest`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ctr = (socket: string, ...args: string[]) => execFileSync('ctr', ['-a', socket, '-n', NS, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });

interface Memory {
  rss: number;
  pss: number;
  private: number;
}
function memoryOf(pid: number): Memory {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(rollup)![1]);
  return { rss: field('Rss'), pss: field('Pss'), private: field('Private_Clean') + field('Private_Dirty') };
}
const sum = (ms: Memory[]): Memory => ms.reduce((a, m) => ({ rss: a.rss + m.rss, pss: a.pss + m.pss, private: a.private + m.private }), { rss: 0, pss: 0, private: 0 });
const parentOf = (pid: number) => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
const commandOf = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');

/** ledgerd's idle warm shims: its children running `containerd-shim-ledger-v1 warm` that serve no task. */
function idleWarmShims(daemonPid: number, serving: Set<number>): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => {
      try {
        return parentOf(pid) === daemonPid && !serving.has(pid) && commandOf(pid).filter(Boolean).at(-1) === 'warm';
      } catch {
        return false;
      }
    });
}

async function measure(name: string, socket: string, daemonPid: number, annotations: string[]): Promise<void> {
  const ids = Array.from({ length: N }, (_, i) => `mem-${i}`);
  for (const id of ids) ctr(socket, 'run', '-d', ...annotations, IMAGE, id, 'sleep', '3600');
  try {
    for (let i = 0; i < 100 && ctr(socket, 'tasks', 'ls').split('\n').filter((l) => l.includes('RUNNING')).length < N; i++) await sleep(100);
    // let the shims settle (containerd's shim frees memory every 30 s, ledgerd's after each task starts)
    await sleep(3000);
    const taskPids = ctr(socket, 'tasks', 'ls').split('\n').slice(1).filter(Boolean).map((line) => Number(line.trim().split(/\s+/)[1]));
    const shims = new Set(taskPids.map(parentOf));
    const shimMemory = sum([...shims].map(memoryOf));
    const warm = sum(idleWarmShims(daemonPid, shims).map(memoryOf));
    report(`${name}.daemon_rss`, memoryOf(daemonPid).rss, 'KiB');
    report(`${name}.shims`, shims.size, 'processes');
    report(`${name}.shim_rss_per_container`, Math.round(shimMemory.rss / N), 'KiB');
    report(`${name}.shim_pss_per_container`, Math.round(shimMemory.pss / N), 'KiB');
    report(`${name}.shim_private_per_container`, Math.round(shimMemory.private / N), 'KiB');
    report(`${name}.warm_idle_pss`, warm.pss, 'KiB');
    report(`${name}.per_container_pss`, Math.round((shimMemory.pss + warm.pss) / N), 'KiB');
  } finally {
    for (const id of ids) ctr(socket, 'tasks', 'kill', '-s', 'SIGKILL', id);
    for (const id of ids) {
      for (let i = 0; i < 50; i++) {
        try {
          ctr(socket, 'tasks', 'delete', id);
          break;
        } catch {
          await sleep(100);
        }
      }
      ctr(socket, 'containers', 'rm', id);
    }
  }
}

/** The process listening on a unix socket: the socket's inode in /proc/net/unix, then whose fd it is. */
function daemonPid(socket: string): number {
  const inode = readFileSync('/proc/net/unix', 'utf8').split('\n').map((l) => l.trim().split(/\s+/)).find((f) => f[7] === socket && f[5] === '01')?.[6];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      if (readdirSync(`/proc/${pid}/fd`).some((fd) => readlinkSync(`/proc/${pid}/fd/${fd}`) === `socket:[${inode}]`)) return Number(pid);
    } catch {
      // gone meanwhile
    }
  }
  throw new Error(`no process listens on ${socket}`);
}

const dir = mkdtempSync(join(tmpdir(), 'ledgerd-bench-memory-'));
const services = await startServices(dir, values.port!, harnessImages());
try {
  const unpacked = await startLedgerd(join(dir, 'unpacked'), 'version = 2\n[plugins."io.containerd.runtime.v2.task"]\ntasks_per_shim = 1\n');
  const daemons = [
    { name: 'containerd', socket: services.containerd.socket, layouts: ['default', 'group'] },
    { name: 'ledgerd', socket: services.ledgerd.socket, layouts: ['default', 'group'] },
    { name: 'ledgerd', socket: unpacked.socket, layouts: ['1_per_shim'] },
  ];
  try {
    for (const { name, socket, layouts } of daemons) {
      ctr(socket, 'images', 'pull', '--plain-http', IMAGE);
      const pid = daemonPid(socket);
      for (const layout of layouts) {
        const annotations = layout === 'group' ? ['--annotation', `io.containerd.runc.v2.group=bench-${process.pid}`] : [];
        await measure(`${name}.${layout}`, socket, pid, annotations);
      }
      ctr(socket, 'images', 'rm', '--sync', IMAGE);
      execFileSync('ctr', ['-a', socket, 'namespaces', 'rm', NS], { stdio: 'ignore' });
    }
  } finally {
    await unpacked.stop();
  }
} finally {
  await services.stop();
  rmSync(dir, { recursive: true, force: true });
}
