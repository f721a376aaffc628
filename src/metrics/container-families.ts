// The per-container metric families of containerd 1.6's cgroups monitor (metrics/cgroups/v1 and
// v2), named as its go-metrics namespace "container" names them (container_<name>_<unit>), each
// labelled container_id and namespace plus its own labels, read from a shim's decoded Metrics.
import { MEMORY_STAT_FIELD } from '../shims/wire/protocol/metrics-v1.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Stats = Record<string, any>;
/** A value with the values of the family's own labels (after container_id and namespace). */
export type Sample = readonly [value: number, labels?: readonly string[]];

export interface Family {
  readonly name: string;
  readonly help: string;
  readonly labels?: readonly string[];
  samples(stats: Stats): Sample[];
}

const one = (value: unknown): Sample[] => (value === undefined || value === null ? [] : [[Number(value)]]);

function scalar(name: string, help: string, read: (stats: Stats) => unknown): Family {
  return { name, help, samples: (stats) => one(read(stats)) };
}

// ---- cgroup v1 (io.containerd.cgroups.v1.Metrics) ----

/** memory.stat keys as containerd names the families (the file's keys: pgpgin, hierarchical_memsw_limit). */
const memoryStatFamilies = [...MEMORY_STAT_FIELD].map(([key, field]) => scalar(`container_memory_${key}_bytes`, `The ${key} amount`, (s) => s.memory?.[field]));

const memoryEntryFamilies = (
  [
    ['usage', 'usage'],
    ['swap', 'swap'],
    ['kernel', 'kernel'],
    ['kerneltcp', 'kernel_tcp'],
  ] as const
).flatMap(([name, field]) => [
  scalar(`container_memory_${name}_failcnt_total`, `The ${name} failcnt`, (s) => s.memory?.[field]?.failcnt),
  scalar(`container_memory_${name}_limit_bytes`, `The ${name} limit`, (s) => s.memory?.[field]?.limit),
  scalar(`container_memory_${name}_max_bytes`, `The ${name} maximum usage`, (s) => s.memory?.[field]?.max),
  scalar(`container_memory_${name}_usage_bytes`, `The ${name} usage`, (s) => s.memory?.[field]?.usage),
]);

/** The blkio files containerd exports (not io_wait_time_recursive), with their unit. */
const BLKIO: readonly [string, 'bytes' | 'total'][] = [
  ['io_merged_recursive', 'total'],
  ['io_queued_recursive', 'total'],
  ['io_service_bytes_recursive', 'bytes'],
  ['io_service_time_recursive', 'total'],
  ['io_serviced_recursive', 'total'],
  ['io_time_recursive', 'total'],
  ['sectors_recursive', 'total'],
];

const blkioFamilies = BLKIO.map(
  ([field, unit]): Family => ({
    name: `container_blkio_${field}_${unit}`,
    help: `The blkio ${field.replaceAll('_', ' ')}`,
    labels: ['op', 'device', 'major', 'minor'],
    samples: (s) => ((s.blkio?.[field] ?? []) as Stats[]).map((e): Sample => [Number(e.value), [e.op, e.device, String(e.major), String(e.minor)]]),
  }),
);

const hugetlbFamily = (name: string, field: string, help: string): Family => ({
  name: `container_hugetlb_${name}`,
  help,
  labels: ['page'],
  samples: (s) => ((s.hugetlb ?? []) as Stats[]).map((h): Sample => [Number(h[field]), [h.pagesize]]),
});

export const V1_FAMILIES: readonly Family[] = [
  scalar('container_pids_limit', 'The limit to the number of pids allowed', (s) => s.pids?.limit),
  scalar('container_pids_current', 'The current number of pids', (s) => s.pids?.current),
  scalar('container_cpu_total_nanoseconds', 'The total cpu time', (s) => s.cpu?.usage?.total),
  scalar('container_cpu_kernel_nanoseconds', 'The total kernel cpu time', (s) => s.cpu?.usage?.kernel),
  scalar('container_cpu_user_nanoseconds', 'The total user cpu time', (s) => s.cpu?.usage?.user),
  {
    name: 'container_per_cpu_nanoseconds',
    help: 'The total cpu time per cpu',
    labels: ['cpu'],
    samples: (s) => ((s.cpu?.usage?.per_cpu ?? []) as unknown[]).map((v, cpu): Sample => [Number(v), [String(cpu)]]),
  },
  scalar('container_cpu_throttle_periods_total', 'The total periods of cpu throttling', (s) => s.cpu?.throttling?.periods),
  scalar('container_cpu_throttled_periods_total', 'The total periods of throttled cpu', (s) => s.cpu?.throttling?.throttled_periods),
  scalar('container_cpu_throttled_time_nanoseconds', 'The total time spent throttled', (s) => s.cpu?.throttling?.throttled_time),
  ...memoryStatFamilies,
  ...memoryEntryFamilies,
  hugetlbFamily('usage_bytes', 'usage', 'The hugetlb usage'),
  hugetlbFamily('failcnt_total', 'failcnt', 'The hugetlb failcnt'),
  hugetlbFamily('max_bytes', 'max', 'The hugetlb maximum usage'),
  ...blkioFamilies,
];

// ---- cgroup v2 (io.containerd.cgroups.v2.Metrics) ----

const V2_MEMORY_FIELDS = [
  'usage', 'usage_limit', 'swap_usage', 'swap_limit', 'file_mapped', 'file_dirty', 'file_writeback', 'pgactivate', 'pgdeactivate',
  'pgfault', 'pgmajfault', 'pglazyfree', 'pgrefill', 'pglazyfreed', 'pgscan', 'pgsteal', 'inactive_anon', 'active_anon',
  'inactive_file', 'active_file', 'unevictable', 'anon', 'file', 'kernel_stack', 'slab', 'sock', 'shmem', 'anon_thp',
  'slab_reclaimable', 'slab_unreclaimable', 'workingset_refault', 'workingset_activate', 'workingset_nodereclaim',
  'thp_fault_alloc', 'thp_collapse_alloc',
];

const ioFamily = (field: string, unit: 'bytes' | 'total'): Family => ({
  name: `container_io_${field}_${unit}`,
  help: `IO ${field}`,
  labels: ['major', 'minor'],
  samples: (s) => ((s.io?.usage ?? []) as Stats[]).map((e): Sample => [Number(e[field]), [String(e.major), String(e.minor)]]),
});

export const V2_FAMILIES: readonly Family[] = [
  scalar('container_pids_limit', 'The limit to the number of pids allowed', (s) => s.pids?.limit),
  scalar('container_pids_current', 'The current number of pids', (s) => s.pids?.current),
  scalar('container_cpu_usage_usec_microseconds', 'Total cpu usage (cgroup v2)', (s) => s.cpu?.usage_usec),
  scalar('container_cpu_user_usec_microseconds', 'Current cpu usage in user space (cgroup v2)', (s) => s.cpu?.user_usec),
  scalar('container_cpu_system_usec_microseconds', 'Current cpu usage in kernel space (cgroup v2)', (s) => s.cpu?.system_usec),
  scalar('container_cpu_nr_periods_total', 'Current cpu number of periods (only if controller is enabled)', (s) => s.cpu?.nr_periods),
  scalar('container_cpu_nr_throttled_total', 'Total number of times tasks have been throttled (only if controller is enabled)', (s) => s.cpu?.nr_throttled),
  scalar('container_cpu_throttled_usec_microseconds', 'Total time duration for which tasks have been throttled (only if controller is enabled)', (s) => s.cpu?.throttled_usec),
  ...V2_MEMORY_FIELDS.map((field) => scalar(`container_memory_${field}_bytes`, `The ${field.replaceAll('_', ' ')} amount (cgroup v2)`, (s) => s.memory?.[field])),
  ioFamily('rbytes', 'bytes'),
  ioFamily('wbytes', 'bytes'),
  ioFamily('rios', 'total'),
  ioFamily('wios', 'total'),
];
