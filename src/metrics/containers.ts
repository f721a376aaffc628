// Per-container metrics, collected on scrape: each running task's shim is asked for its cgroup
// Metrics (the Stats call Tasks.Metrics makes) while the scrape waits, and the answers become
// containerd's container_* families. The OOM count is the TaskOOM events the log has recorded
// since the daemon started (cgroup v1, as containerd's OOM collector counts them) or the
// cgroup's own memory.events count (v2).
import { Gauge, type Registry } from 'prom-client';
import type { Observable } from 'rxjs';
import { decodeMessage } from '../api/proto.js';
import { V1_FAMILIES, V2_FAMILIES, type Family } from './container-families.js';

export interface StatableTask {
  readonly namespace: string;
  readonly id: string;
  stats(): Promise<{ readonly typeUrl: string; readonly value: Uint8Array } | undefined>;
}

const V1_TYPE = 'io.containerd.cgroups.v1.Metrics';
const V2_TYPE = 'io.containerd.cgroups.v2.Metrics';
/** A shim that does not answer in time is left out of this scrape, not allowed to hold it. */
const STATS_TIMEOUT_MS = 5000;
const BASE_LABELS = ['container_id', 'namespace'];

interface Collected {
  readonly task: StatableTask;
  readonly version: 1 | 2;
  readonly stats: Record<string, unknown>;
}

async function statsOf(task: StatableTask): Promise<Collected | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), STATS_TIMEOUT_MS)));
  try {
    const any = await Promise.race([task.stats().catch(() => undefined), timeout]);
    const typeUrl = any?.typeUrl.replace(/^.*\//, '');
    if (!any || (typeUrl !== V1_TYPE && typeUrl !== V2_TYPE)) return undefined;
    return { task, version: typeUrl === V1_TYPE ? 1 : 2, stats: decodeMessage(typeUrl, any.value) };
  } finally {
    clearTimeout(timer);
  }
}

export function watchContainers(registry: Registry, tasks: () => readonly StatableTask[], ooms$: Observable<{ namespace: string; id: string }>): void {
  const oomCounts = new Map<string, number>();
  const key = (namespace: string, id: string) => `${namespace}/${id}`;
  ooms$.subscribe(({ namespace, id }) => oomCounts.set(key(namespace, id), (oomCounts.get(key(namespace, id)) ?? 0) + 1));

  // the families' collect() calls of one scrape run together and share one round of Stats calls
  let round: Promise<Collected[]> | undefined;
  const collected = () =>
    (round ??= Promise.all(tasks().map(statsOf))
      .then((all) => all.filter((c) => c !== undefined))
      .finally(() => setImmediate(() => (round = undefined))));

  const byName = new Map<string, Gauge>();
  const gauge = (family: Family, fill: (set: (values: readonly string[], value: number) => void, all: Collected[]) => void) => {
    const labelNames = [...BASE_LABELS, ...(family.labels ?? [])];
    return new Gauge({
      name: family.name,
      help: family.help,
      labelNames,
      registers: [registry],
      async collect() {
        const all = await collected();
        this.reset();
        fill((values, value) => this.set(Object.fromEntries(labelNames.map((name, i) => [name, values[i]!])), value), all);
      },
    });
  };
  for (const family of [...V1_FAMILIES, ...V2_FAMILIES]) {
    if (byName.has(family.name)) continue;
    // the same name can mean a field of v1's Metrics and of v2's: each task's answer uses its own version's
    const v1 = V1_FAMILIES.find((f) => f.name === family.name);
    const v2 = V2_FAMILIES.find((f) => f.name === family.name);
    byName.set(
      family.name,
      gauge(family, (set, all) => {
        for (const { task, version, stats } of all) {
          const source = version === 1 ? v1 : v2;
          for (const [value, labels = []] of source?.samples(stats) ?? []) set([task.id, task.namespace, ...labels], value);
        }
      }),
    );
  }
  new Gauge({
    name: 'container_memory_oom_total',
    help: 'The number of times a container has received an oom event',
    labelNames: BASE_LABELS,
    registers: [registry],
    async collect() {
      const all = await collected();
      this.reset();
      for (const { task, version, stats } of all) {
        const count = version === 1 ? (oomCounts.get(key(task.namespace, task.id)) ?? 0) : Number((stats.memory_events as { oom?: number } | undefined)?.oom ?? 0);
        this.set({ container_id: task.id, namespace: task.namespace }, count);
      }
    },
  });
}
