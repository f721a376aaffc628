// usage_nano_cores: CPU use as a rate (nanoseconds of CPU per second, i.e. billionths of a core),
// from the difference between this sample of a cgroup's CPU time and the one taken at the previous
// stats call for the same container or pod, as containerd's getUsageNanoCores does. kubelet's
// summary API (kubectl top) reads the rate; the first sample of an id has no predecessor and reads 0.
// The samples are kept in memory only: after a restart the first call starts again from 0.

interface Sample {
  readonly cpuNanos: number;
  readonly timestamp: bigint;
}

export class CpuRates {
  private readonly previous = new Map<string, Sample>();

  /** The rate since the previous sample of `id`, remembering this one; 0 for the first sample. */
  rate(id: string, cpuNanos: number, timestamp: bigint): number {
    const before = this.previous.get(id);
    if (before && timestamp <= before.timestamp) return 0; // samples out of order: keep the newer one
    this.previous.set(id, { cpuNanos, timestamp });
    if (!before) return 0;
    const used = cpuNanos - before.cpuNanos;
    if (used <= 0) return 0; // a counter that went back (a new cgroup under the same id)
    return Math.round((used * 1e9) / Number(timestamp - before.timestamp));
  }

  /** Forgets the samples of every id not in `alive` (removed containers and pods). */
  retain(alive: Iterable<string>): void {
    const keep = new Set(alive);
    for (const id of this.previous.keys()) if (!keep.has(id)) this.previous.delete(id);
  }
}
