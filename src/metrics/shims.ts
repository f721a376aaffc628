// The memory of the daemon's shims, found on scrape: the processes started with `-address <the
// daemon's socket>` (every shim v2 binary is, whichever runtime; they are reparented so that they
// outlive the daemon) and the warm shims the daemon keeps as its own children.
import { readdirSync, readFileSync } from 'node:fs';
import { Gauge, type Registry } from 'prom-client';

function shimPids(address: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      const at = argv.indexOf('-address');
      const started = at > 0 && argv[at + 1] === address;
      if (started || (argv.some((arg) => arg.includes('shim')) && parentOf(name) === process.pid)) pids.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** The parent pid: the field after the parenthesised command name in /proc/<pid>/stat. */
function parentOf(pid: string): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/** VmRSS of a process in bytes, 0 when it has gone. */
function residentBytes(pid: number): number {
  try {
    const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) * 1024 : 0;
  } catch {
    return 0;
  }
}

export function watchShims(registry: Registry, grpcAddress: string): void {
  const address = grpcAddress.replace(/^unix:\/\//, '');
  new Gauge({
    name: 'ledgerd_shims',
    help: 'Shim processes serving this daemon',
    registers: [registry],
    collect() {
      this.set(shimPids(address).length);
    },
  });
  new Gauge({
    name: 'ledgerd_shims_resident_memory_bytes',
    help: 'Resident memory of all shim processes serving this daemon (VmRSS, summed)',
    registers: [registry],
    collect() {
      this.set(shimPids(address).reduce((sum, pid) => sum + residentBytes(pid), 0));
    },
  });
}
