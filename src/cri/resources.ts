// A container's resources as containerd's CRI puts them into the OCI spec (pkg/cri/opts/
// spec_linux.go WithResources, WithOOMScoreAdj): only the fields the request sets (non-zero)
// change, so UpdateContainerResources with just a memory limit keeps the CPU settings.
import { existsSync, readFileSync } from 'node:fs';
import type { RuntimeSpec } from '../client/run/oci-spec.js';
import { invalidArgument } from '../util/errdefs.js';
import type { CriConfig } from './config.js';
import type { LinuxContainerResources } from './types.js';

/** The OCI spec's linux.resources, as far as the CRI sets it. */
export interface OciResources {
  cpu?: { shares?: number; quota?: number; period?: number; cpus?: string; mems?: string };
  memory?: { limit?: number; swap?: number };
  hugepageLimits?: { pageSize: string; limit: number }[];
  unified?: Record<string, string>;
  devices?: { allow: boolean; type?: string; major?: number; minor?: number; access?: string }[];
  [field: string]: unknown;
}

export interface ResourceRules {
  /** containerd's disable_hugetlb_controller (default true): hugepage limits are not applied at all. */
  readonly disableHugetlbController: boolean;
  /** tolerate_missing_hugetlb_controller (default true): without the controller, limits are skipped, not refused. */
  readonly tolerateMissingHugetlbController: boolean;
}

let swapController: boolean | undefined;
/** memory.memsw (cgroup v1) or memory.swap.max (v2) exists: limiting swap is possible. */
function swapControllerAvailable(): boolean {
  swapController ??= existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes') || existsSync('/sys/fs/cgroup/memory.swap.max') || hasV2Controller('memory');
  return swapController;
}

function hasV2Controller(name: string): boolean {
  try {
    return readFileSync('/sys/fs/cgroup/cgroup.controllers', 'utf8').split(/\s+/).includes(name);
  } catch {
    return false;
  }
}

const hugetlbPresent = () => existsSync('/sys/fs/cgroup/hugetlb') || hasV2Controller('hugetlb');

/** `current` with the request's set fields applied (a new object; `current` is not changed). */
export function withResources(current: OciResources | undefined, r: LinuxContainerResources | null | undefined, rules: ResourceRules): OciResources {
  const next: OciResources = structuredClone(current ?? {});
  if (!r) return next;
  const cpu = { ...next.cpu };
  const num = (v: unknown) => Number(v ?? 0);
  if (num(r.cpu_period)) cpu.period = num(r.cpu_period);
  if (num(r.cpu_quota)) cpu.quota = num(r.cpu_quota);
  if (num(r.cpu_shares)) cpu.shares = num(r.cpu_shares);
  if (r.cpuset_cpus) cpu.cpus = r.cpuset_cpus;
  if (r.cpuset_mems) cpu.mems = r.cpuset_mems;
  if (Object.keys(cpu).length > 0) next.cpu = cpu;
  const memory = { ...next.memory };
  const limit = num(r.memory_limit_in_bytes);
  const swap = num(r.memory_swap_limit_in_bytes);
  if (limit) {
    memory.limit = limit;
    // swap as large as the limit: no swapping unless asked for
    if (!swap && swapControllerAvailable()) memory.swap = limit;
  }
  if (swap && swapControllerAvailable()) memory.swap = swap;
  if (Object.keys(memory).length > 0) next.memory = memory;
  const hugepages = r.hugepage_limits ?? [];
  if (hugepages.length > 0 && !rules.disableHugetlbController) {
    if (hugetlbPresent()) {
      const bySize = new Map((next.hugepageLimits ?? []).map((h) => [h.pageSize, h]));
      for (const h of hugepages) {
        if (!h.page_size) throw invalidArgument('linux.resources.hugepage_limits.page_size: must be set');
        bySize.set(h.page_size, { pageSize: h.page_size, limit: num(h.limit) });
      }
      next.hugepageLimits = [...bySize.values()];
    } else if (!rules.tolerateMissingHugetlbController) {
      throw invalidArgument('linux.resources.hugepage_limits: huge pages limits are specified but the hugetlb cgroup controller is missing; set tolerate_missing_hugetlb_controller to true to ignore this');
    }
  }
  if (r.unified && Object.keys(r.unified).length > 0) next.unified = { ...next.unified, ...r.unified };
  return next;
}

/** The CRI's view of resources in effect (ContainerStatus.resources), from the spec's. */
export function criResources(oci: OciResources | undefined, oomScoreAdj: number | undefined): LinuxContainerResources {
  return {
    cpu_period: oci?.cpu?.period ?? 0,
    cpu_quota: oci?.cpu?.quota ?? 0,
    cpu_shares: oci?.cpu?.shares ?? 0,
    cpuset_cpus: oci?.cpu?.cpus ?? '',
    cpuset_mems: oci?.cpu?.mems ?? '',
    memory_limit_in_bytes: oci?.memory?.limit ?? 0,
    memory_swap_limit_in_bytes: oci?.memory?.swap ?? 0,
    oom_score_adj: oomScoreAdj ?? 0,
    hugepage_limits: (oci?.hugepageLimits ?? []).map((h) => ({ page_size: h.pageSize, limit: h.limit })),
    unified: { ...oci?.unified },
  };
}

/** The OOM score the container gets: with restrict_oom_score_adj, never below the daemon's own. */
export function oomScoreAdj(requested: number, restrict: boolean): number {
  return restrict ? Math.max(requested, currentOomScoreAdj()) : requested;
}

export function currentOomScoreAdj(): number {
  try {
    return Number(readFileSync('/proc/self/oom_score_adj', 'utf8').trim()) || 0;
  } catch {
    return 0;
  }
}

export const resourceRules = (config: CriConfig): ResourceRules => ({
  disableHugetlbController: config.disable_hugetlb_controller,
  tolerateMissingHugetlbController: config.tolerate_missing_hugetlb_controller,
});

/** A new container's resources and OOM score (kubelet sets oom_score_adj by QoS class). */
export function applyContainerResources(spec: RuntimeSpec, resources: LinuxContainerResources | null | undefined, config: CriConfig): void {
  const linux = spec.linux as { resources?: OciResources };
  linux.resources = withResources(linux.resources, resources, resourceRules(config));
  spec.process.oomScoreAdj = oomScoreAdj(Number(resources?.oom_score_adj ?? 0), config.restrict_oom_score_adj);
}
