// The CRI's two gRPC services (runtime.v1.RuntimeService, runtime.v1.ImageService): decode,
// call src/cri/, encode. Methods not listed here answer UNIMPLEMENTED (grpc-js's default).
import { Metadata, type ServerUnaryCall } from '@grpc/grpc-js';
import type { CriConfig } from '../cri/config.js';
import type { CriImage, CriImages } from '../cri/images.js';
import { runtimeStatus, runtimeVersion } from '../cri/runtime-info.js';
import type { CriPods } from '../cri/pods.js';
import { criContainerState, type CriContainerView, type PodView } from '../projections/index.js';
import type { ContainerStats, CriContainers, PodStats } from '../cri/containers.js';
import type { CgroupStats, InterfaceStats } from '../cri/stats.js';
import { CpuRates } from '../cri/cpu-rate.js';
import type { StreamingServer } from '../cri/streaming/server.js';
import type { ContainerConfig } from '../cri/types.js';
import { namespaceModes } from '../cri/sandbox-spec.js';
import type { PodSandboxConfig } from '../cri/types.js';
import { FROM_SEQ_HEADER, header, requestMeta } from './request.js';
import { subscribeFrom } from './events.js';
import { failedPrecondition } from '../util/errdefs.js';
import { serverStream, unary, writeWithBackpressure, type Implementation } from './handlers.js';
import type { EventLog } from '../log/index.js';
import type { ProjectionSet } from '../projections/index.js';
import { containerEvents, type ContainerEvent, type ContainerEventSources } from '../cri/container-events.js';

export const CRI_RUNTIME_SERVICE = 'runtime.v1.RuntimeService';
export const CRI_IMAGE_SERVICE = 'runtime.v1.ImageService';

function imageToProto(image: CriImage) {
  return {
    id: image.id,
    repo_tags: image.repoTags,
    repo_digests: image.repoDigests,
    size: image.size,
    uid: image.uid === undefined ? null : { value: image.uid },
    username: image.username,
    spec: { image: image.id, annotations: {} },
    pinned: false,
  };
}

/** A call whose client went away aborts what it started (a pull stops its downloads). */
function callSignal(call: ServerUnaryCall<unknown, unknown>): AbortSignal {
  const abort = new AbortController();
  call.on('cancelled', () => abort.abort(new Error('the client cancelled the call')));
  return abort.signal;
}

function podToProto(pod: PodView) {
  const config = pod.config as PodSandboxConfig;
  return {
    id: pod.id,
    metadata: pod.metadata,
    state: pod.state,
    created_at: pod.createdAt.toString(),
    labels: config.labels ?? {},
    annotations: config.annotations ?? {},
    runtime_handler: pod.runtimeHandler,
  };
}

function podStatus(pod: PodView) {
  const [ip = '', ...more] = pod.ips;
  return {
    ...podToProto(pod),
    network: { ip, additional_ips: more.map((extra) => ({ ip: extra })) },
    linux: { namespaces: { options: namespaceModes(pod.config as PodSandboxConfig) } },
  };
}

const labelsMatch = (labels: Record<string, string>, selector: Record<string, string> | undefined) =>
  Object.entries(selector ?? {}).every(([key, value]) => labels[key] === value);

function containerToProto(c: CriContainerView) {
  const config = c.config as ContainerConfig;
  return {
    id: c.id,
    pod_sandbox_id: c.podId,
    metadata: c.metadata,
    image: { image: c.imageRef, annotations: {} },
    image_ref: c.imageId,
    state: criContainerState(c),
    created_at: c.createdAt.toString(),
    labels: config.labels ?? {},
    annotations: config.annotations ?? {},
  };
}

function exitReason(c: CriContainerView): string {
  if (criContainerState(c) !== 'CONTAINER_EXITED') return '';
  return c.oomKilled ? 'OOMKilled' : c.exitCode === 0 ? 'Completed' : 'Error';
}

function containerStatus(c: CriContainerView) {
  const config = c.config as ContainerConfig;
  return {
    ...containerToProto(c),
    started_at: c.startedAt.toString(),
    finished_at: c.finishedAt.toString(),
    exit_code: c.exitCode,
    reason: exitReason(c),
    message: '',
    mounts: (config.mounts ?? []).map((m) => ({ ...m, propagation: m.propagation ?? 'PROPAGATION_PRIVATE' })),
    log_path: c.logPath,
    resources: c.resources ? { linux: c.resources } : null,
  };
}

const uint64 = (n: number | undefined) => (n === undefined ? null : { value: n });

/** CPU use since the previous stats call for the same container or pod (one tracker for each kind). */
interface CpuRateTrackers {
  readonly containers: CpuRates;
  readonly pods: CpuRates;
}

function cpuAndMemory(cgroup: CgroupStats | undefined, at: bigint, rate: (cpuNanos: number, timestamp: bigint) => number) {
  const usageNanoCores = cgroup && rate(cgroup.cpuNanos, at);
  const timestamp = at.toString();
  return {
    cpu: { timestamp, usage_core_nano_seconds: uint64(cgroup?.cpuNanos), usage_nano_cores: uint64(usageNanoCores) },
    memory: {
      timestamp,
      working_set_bytes: uint64(cgroup?.workingSet),
      available_bytes: uint64(cgroup?.availableBytes),
      usage_bytes: uint64(cgroup?.memoryUsage),
      rss_bytes: uint64(cgroup?.rss),
      page_faults: uint64(cgroup?.pageFaults),
      major_page_faults: uint64(cgroup?.majorPageFaults),
    },
  };
}

function statsToProto(c: CriContainerView, stats: ContainerStats, mountpoint: string, rates: CpuRateTrackers) {
  const config = c.config as ContainerConfig;
  const timestamp = stats.timestamp.toString();
  return {
    attributes: { id: c.id, metadata: c.metadata, labels: config.labels ?? {}, annotations: config.annotations ?? {} },
    ...cpuAndMemory(stats.cgroup, stats.timestamp, (cpu, at) => rates.containers.rate(c.id, cpu, at)),
    writable_layer: { timestamp, fs_id: { mountpoint }, used_bytes: uint64(stats.writableLayer?.size), inodes_used: uint64(stats.writableLayer?.inodes) },
  };
}

function podStatsToProto(pod: PodView, stats: PodStats, mountpoint: string, rates: CpuRateTrackers) {
  const config = pod.config as PodSandboxConfig;
  const timestamp = stats.timestamp.toString();
  const iface = (i: InterfaceStats) => ({ name: i.name, rx_bytes: uint64(i.rxBytes), rx_errors: uint64(i.rxErrors), tx_bytes: uint64(i.txBytes), tx_errors: uint64(i.txErrors) });
  const interfaces = stats.network.filter((i) => i.name !== 'lo');
  const byDefault = interfaces.find((i) => i.name === 'eth0');
  return {
    attributes: { id: pod.id, metadata: pod.metadata, labels: config.labels ?? {}, annotations: config.annotations ?? {} },
    linux: {
      ...cpuAndMemory(stats.cgroup, stats.timestamp, (cpu, at) => rates.pods.rate(pod.id, cpu, at)),
      network: stats.network.length > 0 ? { timestamp, default_interface: byDefault ? iface(byDefault) : null, interfaces: interfaces.map(iface) } : null,
      process: { timestamp, process_count: uint64(stats.cgroup?.processes) },
      containers: stats.containers.map(({ container, stats: s }) => statsToProto(container, s, mountpoint, rates)),
    },
  };
}

/** The log and read models GetContainerEvents follows. */
export interface CriEventSources {
  readonly log: EventLog;
  readonly projections: ProjectionSet;
}

/** A ContainerEventResponse. */
function containerEventToProto(event: ContainerEvent) {
  return {
    container_id: event.containerId,
    container_event_type: event.type,
    created_at: event.createdAt.toString(),
    pod_sandbox_status: event.pod ? podStatus(event.pod) : null,
    containers_statuses: event.containers.map(containerStatus),
  };
}

export function criRuntimeService(config: CriConfig, pods: CriPods, containers: CriContainers, streaming: StreamingServer, snapshotRoot: string, sources: CriEventSources): Implementation {
  const running = (id: string) => {
    const c = containers.get(id);
    if (criContainerState(c) !== 'CONTAINER_RUNNING') throw failedPrecondition(`container ${c.id} is not running`);
    return c;
  };
  const rates: CpuRateTrackers = { containers: new CpuRates(), pods: new CpuRates() };
  const eventSources: ContainerEventSources = {
    ...sources,
    pod: (id) => pods.find(id),
    container: (id) => containers.find(id),
    containersOf: (podId) => containers.list().filter((c) => c.podId === podId),
  };
  return {
    GetContainerEvents: serverStream(async (call) => {
      const abort = new AbortController();
      call.on('cancelled', () => abort.abort());
      call.on('close', () => abort.abort());
      // ledgerd's own, as Events.Subscribe: the request's ledgerd-from-seq resumes at that log
      // position; the response's initial metadata names where this stream starts, for a client to
      // come back with (it then sees again what it saw, in order, and nothing is missed)
      const from = subscribeFrom(sources.log, header(call.metadata, FROM_SEQ_HEADER));
      const position = new Metadata();
      position.set(FROM_SEQ_HEADER, String(from));
      call.sendMetadata(position);
      for await (const event of containerEvents(eventSources, from, abort.signal)) {
        await writeWithBackpressure(call, containerEventToProto(event));
      }
    }),
    ContainerStats: unary(async (call) => {
      const c = containers.get(String(call.request.container_id ?? ''));
      return { stats: statsToProto(c, await containers.stats(c), snapshotRoot, rates) };
    }),
    PodSandboxStats: unary(async (call) => {
      const pod = pods.get(String(call.request.pod_sandbox_id ?? ''));
      return { stats: podStatsToProto(pod, await containers.podStats(pod), snapshotRoot, rates) };
    }),
    ListPodSandboxStats: unary(async (call) => {
      const filter = call.request.filter ?? {};
      const chosen = pods
        .list()
        .filter((pod) => pod.state === 'SANDBOX_READY')
        .filter((pod) => !filter.id || pod.id.startsWith(String(filter.id)))
        .filter((pod) => labelsMatch((pod.config as PodSandboxConfig).labels ?? {}, filter.label_selector));
      rates.pods.retain(pods.list().map((pod) => pod.id));
      return { stats: await Promise.all(chosen.map(async (pod) => podStatsToProto(pod, await containers.podStats(pod), snapshotRoot, rates))) };
    }),
    ListContainerStats: unary(async (call) => {
      const filter = call.request.filter ?? {};
      const chosen = containers
        .list()
        .filter((c) => !filter.id || c.id.startsWith(String(filter.id)))
        .filter((c) => !filter.pod_sandbox_id || c.podId.startsWith(String(filter.pod_sandbox_id)))
        .filter((c) => labelsMatch((c.config as ContainerConfig).labels ?? {}, filter.label_selector));
      rates.containers.retain(containers.list().map((c) => c.id));
      return { stats: await Promise.all(chosen.map(async (c) => statsToProto(c, await containers.stats(c), snapshotRoot, rates))) };
    }),
    Exec: unary(async (call) => {
      const r = call.request;
      const c = running(String(r.container_id ?? ''));
      return { url: await streaming.getExec({ containerId: c.id, cmd: (r.cmd ?? []).map(String), tty: !!r.tty, stdin: !!r.stdin, stdout: !!r.stdout, stderr: !!r.stderr }) };
    }),
    Attach: unary(async (call) => {
      const r = call.request;
      const c = running(String(r.container_id ?? ''));
      return { url: await streaming.getAttach({ containerId: c.id, tty: !!r.tty, stdin: !!r.stdin, stdout: !!r.stdout, stderr: !!r.stderr }) };
    }),
    PortForward: unary(async (call) => {
      const pod = pods.get(String(call.request.pod_sandbox_id ?? ''));
      return { url: await streaming.getPortForward({ podSandboxId: pod.id, ports: (call.request.port ?? []).map(Number) }) };
    }),
    CreateContainer: unary(async (call) => ({
      container_id: await containers.create(String(call.request.pod_sandbox_id ?? ''), call.request.config ?? {}, requestMeta(call)),
    })),
    StartContainer: unary(async (call) => {
      await containers.start(String(call.request.container_id ?? ''));
      return {};
    }),
    StopContainer: unary(async (call) => {
      await containers.stop(String(call.request.container_id ?? ''), Number(call.request.timeout ?? 0));
      return {};
    }),
    UpdateContainerResources: unary(async (call) => {
      await containers.updateResources(String(call.request.container_id ?? ''), call.request.linux, requestMeta(call));
      return {};
    }),
    RemoveContainer: unary(async (call) => {
      await containers.remove(String(call.request.container_id ?? ''), requestMeta(call));
      return {};
    }),
    ReopenContainerLog: unary(async (call) => {
      await containers.reopenLog(String(call.request.container_id ?? ''));
      return {};
    }),
    ContainerStatus: unary((call) => {
      const c = containers.get(String(call.request.container_id ?? ''));
      const info = call.request.verbose ? { info: JSON.stringify({ pid: c.pid, sandboxID: c.podId, config: c.config }) } : {};
      return { status: containerStatus(c), info };
    }),
    ListContainers: unary((call) => {
      const filter = call.request.filter ?? {};
      const byId = filter.id ? containers.find(String(filter.id)) : undefined;
      const items = (filter.id ? (byId ? [byId] : []) : containers.list())
        .filter((c) => !filter.state || criContainerState(c) === filter.state.state)
        .filter((c) => !filter.pod_sandbox_id || c.podId.startsWith(String(filter.pod_sandbox_id)))
        .filter((c) => labelsMatch((c.config as ContainerConfig).labels ?? {}, filter.label_selector));
      return { containers: items.map(containerToProto) };
    }),
    ExecSync: unary(async (call) => {
      const result = await containers.execSync(String(call.request.container_id ?? ''), (call.request.cmd ?? []).map(String), Number(call.request.timeout ?? 0));
      return { stdout: result.stdout, stderr: result.stderr, exit_code: result.exitCode };
    }),
    RunPodSandbox: unary(async (call) => ({
      pod_sandbox_id: await pods.run(call.request.config ?? {}, String(call.request.runtime_handler ?? ''), requestMeta(call)),
    })),
    StopPodSandbox: unary(async (call) => {
      await pods.stop(String(call.request.pod_sandbox_id ?? ''), requestMeta(call));
      return {};
    }),
    RemovePodSandbox: unary(async (call) => {
      await pods.remove(String(call.request.pod_sandbox_id ?? ''), requestMeta(call));
      return {};
    }),
    PodSandboxStatus: unary((call) => {
      const pod = pods.get(String(call.request.pod_sandbox_id ?? ''));
      const info = call.request.verbose ? { info: JSON.stringify({ pid: pod.pid, netnsPath: pod.netnsPath, runtimeHandler: pod.runtimeHandler, config: pod.config, cniResults: pod.cniResults }) } : {};
      return { status: podStatus(pod), info, containers_statuses: [] };
    }),
    ListPodSandbox: unary((call) => {
      const filter = call.request.filter ?? {};
      const byId = filter.id ? pods.find(String(filter.id)) : undefined;
      const items = (filter.id ? (byId ? [byId] : []) : pods.list())
        .filter((pod) => !filter.state || pod.state === filter.state.state)
        .filter((pod) => labelsMatch((pod.config as PodSandboxConfig).labels ?? {}, filter.label_selector));
      return { items: items.map(podToProto) };
    }),
    Version: unary(() => runtimeVersion()),
    Status: unary(async (call) => {
      const { conditions, info } = await runtimeStatus(config, Boolean(call.request.verbose));
      return { status: { conditions }, info };
    }),
  };
}

export function criImageService(images: CriImages): Implementation {
  return {
    ListImages: unary(async (call) => {
      const wanted = String(call.request.filter?.image?.image ?? '');
      if (wanted) {
        const image = await images.find(wanted);
        return { images: image ? [imageToProto(image)] : [] };
      }
      return { images: (await images.list()).map(imageToProto) };
    }),
    ImageStatus: unary(async (call) => {
      const image = await images.find(String(call.request.image?.image ?? ''));
      if (!image) return { image: null, info: {} };
      const info = call.request.verbose ? { info: JSON.stringify({ imageSpec: image.config }) } : {};
      return { image: imageToProto(image), info };
    }),
    PullImage: unary(async (call) => ({
      image_ref: await images.pull(String(call.request.image?.image ?? ''), call.request.auth ?? undefined, callSignal(call)),
    })),
    RemoveImage: unary(async (call) => {
      await images.remove(String(call.request.image?.image ?? ''));
      return {};
    }),
    ImageFsInfo: unary(async () => {
      const usage = await images.fsUsage();
      return {
        image_filesystems: [
          {
            timestamp: usage.timestamp.toString(),
            fs_id: { mountpoint: usage.mountpoint },
            used_bytes: { value: usage.usedBytes },
            inodes_used: { value: usage.inodesUsed },
          },
        ],
      };
    }),
  };
}
