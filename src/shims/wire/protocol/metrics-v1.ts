// io.containerd.cgroups.v1.Metrics (proto/cgroups/v1/metrics.proto): what Stats returns on a cgroup v1 host.
import { message } from './protowire.js';

const u64 = (no: number, name: string): [number, string, 'uint64'] => [no, name, 'uint64'];

const HugetlbStat = message('io.containerd.cgroups.v1.HugetlbStat', u64(1, 'usage'), u64(2, 'max'), u64(3, 'failcnt'), [4, 'pagesize', 'string']);
const PidsStat = message('io.containerd.cgroups.v1.PidsStat', u64(1, 'current'), u64(2, 'limit'));
const CPUUsage = message('io.containerd.cgroups.v1.CPUUsage', u64(1, 'total'), u64(2, 'kernel'), u64(3, 'user'), [4, 'per_cpu', 'uint64', 'repeated']);
const Throttle = message('io.containerd.cgroups.v1.Throttle', u64(1, 'periods'), u64(2, 'throttled_periods'), u64(3, 'throttled_time'));
const CPUStat = message('io.containerd.cgroups.v1.CPUStat', [1, 'usage', CPUUsage], [2, 'throttling', Throttle]);
const MemoryEntry = message('io.containerd.cgroups.v1.MemoryEntry', u64(1, 'limit'), u64(2, 'usage'), u64(3, 'max'), u64(4, 'failcnt'));

/** memory.stat keys in MemoryStat field order 1..32. */
const MEMORY_STAT_KEYS = [
  'cache', 'rss', 'rss_huge', 'mapped_file', 'dirty', 'writeback', 'pgpgin', 'pgpgout', 'pgfault', 'pgmajfault',
  'inactive_anon', 'active_anon', 'inactive_file', 'active_file', 'unevictable', 'hierarchical_memory_limit',
  'hierarchical_memsw_limit', 'total_cache', 'total_rss', 'total_rss_huge', 'total_mapped_file', 'total_dirty',
  'total_writeback', 'total_pgpgin', 'total_pgpgout', 'total_pgfault', 'total_pgmajfault', 'total_inactive_anon',
  'total_active_anon', 'total_inactive_file', 'total_active_file', 'total_unevictable',
];
/** The proto names differ from the file's keys in the page counters and the swap limit. */
const fieldName = (key: string): string =>
  key.replace(/pgpg(in|out)$/, 'pg_pg_$1').replace(/pgmajfault$/, 'pg_maj_fault').replace(/pgfault$/, 'pg_fault').replace('memsw_limit', 'swap_limit');
/** memory.stat key -> MemoryStat field name. */
export const MEMORY_STAT_FIELD: ReadonlyMap<string, string> = new Map(MEMORY_STAT_KEYS.map((k) => [k, fieldName(k)]));

const MemoryStat = message(
  'io.containerd.cgroups.v1.MemoryStat',
  ...MEMORY_STAT_KEYS.map((key, i) => u64(i + 1, fieldName(key))),
  [33, 'usage', MemoryEntry],
  [34, 'swap', MemoryEntry],
  [35, 'kernel', MemoryEntry],
  [36, 'kernel_tcp', MemoryEntry],
);
const BlkIOEntry = message('io.containerd.cgroups.v1.BlkIOEntry', [1, 'op', 'string'], [2, 'device', 'string'], u64(3, 'major'), u64(4, 'minor'), u64(5, 'value'));
/** BlkIOStat fields in order with the blkio file each one is read from (cgroups/blkio.go). */
export const BLKIO_FILES = [
  ['io_service_bytes_recursive', 'io_service_bytes_recursive'],
  ['io_serviced_recursive', 'io_serviced_recursive'],
  ['io_queued_recursive', 'io_queued_recursive'],
  ['io_service_time_recursive', 'io_service_time_recursive'],
  ['io_wait_time_recursive', 'io_wait_time_recursive'],
  ['io_merged_recursive', 'io_merged_recursive'],
  ['io_time_recursive', 'time_recursive'],
  ['sectors_recursive', 'sectors_recursive'],
] as const;
const BlkIOStat = message('io.containerd.cgroups.v1.BlkIOStat', ...BLKIO_FILES.map(([name], i): [number, string, typeof BlkIOEntry, 'repeated'] => [i + 1, name, BlkIOEntry, 'repeated']));
const MemoryOomControl = message('io.containerd.cgroups.v1.MemoryOomControl', u64(1, 'oom_kill_disable'), u64(2, 'under_oom'), u64(3, 'oom_kill'));

export const METRICS_V1_TYPE_URL = 'io.containerd.cgroups.v1.Metrics';

export const MetricsV1 = message(
  METRICS_V1_TYPE_URL,
  [1, 'hugetlb', HugetlbStat, 'repeated'],
  [2, 'pids', PidsStat],
  [3, 'cpu', CPUStat],
  [4, 'memory', MemoryStat],
  [5, 'blkio', BlkIOStat],
  [9, 'memory_oom_control', MemoryOomControl],
);
