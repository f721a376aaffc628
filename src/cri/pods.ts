// The CRI's pod sandboxes (pkg/cri/server/sandbox_*.go): RunPodSandbox makes the network
// namespace, attaches it to the CNI networks, creates the pause container and starts its task
// through the daemon's containerd API (namespace k8s.io), and then records the pod in the log
// (PodCommands). Stop and Remove undo those effects, each step tolerating what is already gone,
// so both are idempotent. The sandbox store is the pods projection.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runnableImage } from '../client/run/image-config.js';
import { takeLease } from '../client/pull/lease.js';
import { SPEC_TYPE_URL } from '../client/run/oci-spec.js';
import { formatReference } from '../client/registry/index.js';
import { grpcCode, SERVICES, type Rpc } from '../client/rpc.js';
import type { PodCommands } from '../commands/pods.js';
import { podName } from '../commands/pods.js';
import type { RequestMeta } from '../commands/context.js';
import type { PodView } from '../projections/index.js';
import { Code } from '../util/grpc-codes.js';
import { mount, unmount } from '../util/mount/index.js';
import { alreadyExists, failedPrecondition, invalidArgument, notFound } from '../util/errdefs.js';
import { applySandboxSecurity, securitySettings } from './security.js';
import { loadNetworks, type NetworkConfList } from './cni/config.js';
import { addressesOn, cniAdd, cniDel, LOOPBACK_NETWORK, type CniInvocation } from './cni/exec.js';
import { CRI_NAMESPACE, type CriConfig } from './config.js';
import { parseImageRef, type CriImages } from './images.js';
import { createNetns, newNetnsPath, removeNetns } from './netns.js';
import { PodSetupJournal, readPodSetup } from './pod-setup-journal.js';
import { runtimeOptions } from './runtime-options.js';
import { hostsFile, namespaceModes, resolvConf, sandboxSpec } from './sandbox-spec.js';
import type { PodSandboxConfig } from './types.js';

/** containerd's defaultShmSize: 64 MiB. */
const POD_SHM_SIZE = '65536k';

/** containerd's label of the CRI's containerd containers. */
export const KIND_LABEL = 'io.cri-containerd.kind';

export interface PodDirs {
  /** <root>/io.containerd.grpc.v1.cri */
  readonly root: string;
  /** <state>/io.containerd.grpc.v1.cri */
  readonly state: string;
}

const ignoreNotFound = (err: unknown) => {
  if (grpcCode(err) !== Code.NotFound) throw err;
};

/** What the pods need of their containers: StopPodSandbox stops them, RemovePodSandbox removes them. */
export interface PodContainers {
  stopAll(podId: string): Promise<void>;
  removeAll(podId: string, meta: RequestMeta): Promise<void>;
}

/** What a pod's runtime handler names: the shim type and the settings of [containerd.runtimes.<name>]. */
export interface PodRuntime {
  readonly type: string;
  readonly podAnnotations: string[];
  readonly privilegedWithoutHostDevices: boolean;
  /** The runtime's options as the shim's task options (runc: SystemdCgroup, BinaryName, Root, ...). */
  readonly options?: { type_url: string; value: Buffer };
}

export class CriPods {
  containers?: PodContainers;
  /** Pods a RunPodSandbox is making now (the reconciler leaves them alone). */
  private readonly starting = new Set<string>();

  constructor(
    private readonly rpc: Rpc,
    private readonly config: CriConfig,
    private readonly images: CriImages,
    private readonly pods: PodCommands,
    private readonly dirs: PodDirs,
  ) {}

  sandboxDir = (id: string) => join(this.dirs.root, 'sandboxes', id);

  /** The pod's volatile files (under the state dir): its /dev/shm tmpfs. */
  private volatileDir = (id: string) => join(this.dirs.state, 'sandboxes', id);

  /** The host directory a pod's containers get as /dev/shm: the pod's own tmpfs, or the host's with host IPC. */
  devShm(pod: PodView): string {
    return namespaceModes(pod.config as PodSandboxConfig).ipc === 'NODE' ? '/dev/shm' : join(this.volatileDir(pod.id), 'shm');
  }

  get(id: string): PodView {
    const pod = this.find(id);
    if (!pod) throw notFound(`pod sandbox "${id}"`);
    return pod;
  }

  /** By full id or a unique prefix of one (crictl accepts short ids). */
  find(id: string): PodView | undefined {
    if (!id) throw invalidArgument('pod_sandbox_id: must be set');
    const exact = this.pods.get(CRI_NAMESPACE, id);
    if (exact) return exact;
    const matches = this.pods.list(CRI_NAMESPACE).filter((p) => p.id.startsWith(id));
    return matches.length === 1 ? matches[0] : undefined;
  }

  list(): PodView[] {
    return this.pods.list(CRI_NAMESPACE);
  }

  async run(config: PodSandboxConfig, runtimeHandler: string, meta: RequestMeta): Promise<string> {
    const metadata = checkMetadata(config);
    const name = podName(metadata);
    const holder = this.pods.byName(CRI_NAMESPACE, name);
    if (holder) throw alreadyExists(`pod sandbox name "${name}" is reserved for ${holder.id}`);
    const runtime = this.runtimeFor(runtimeHandler);
    const id = randomBytes(32).toString('hex');
    const undo: (() => Promise<unknown>)[] = [];
    this.starting.add(id);
    try {
      const imageName = await this.ensureImage(this.config.sandbox_image);
      const image = await runnableImage(this.rpc, imageName);

      const dir = this.sandboxDir(id);
      await mkdir(dir, { recursive: true });
      undo.push(() => rm(dir, { recursive: true, force: true }));
      const journal = new PodSetupJournal(dir, plain(config));
      await journal.begin();
      await writeFile(join(dir, 'hostname'), `${config.hostname ?? ''}\n`);
      await writeFile(join(dir, 'hosts'), hostsFile());
      await writeFile(join(dir, 'resolv.conf'), resolvConf(config));
      const shm = await this.mountShm(id, config, undo);

      let netnsPath = '';
      let ips: string[] = [];
      let cniResults: { network: string; ifname: string; result: unknown }[] = [];
      if (namespaceModes(config).network !== 'NODE') {
        netnsPath = newNetnsPath();
        await journal.netns(netnsPath);
        await createNetns(netnsPath);
        undo.push(() => removeNetns(netnsPath));
        const attached = await this.attachNetworks(id, metadata, config, netnsPath, undo, journal);
        ips = attached.ips;
        cniResults = attached.results;
      }

      const spec = sandboxSpec({ id, config, image: image.config, netnsPath, shm, restrictOomScoreAdj: this.config.restrict_oom_score_adj, podAnnotations: runtime.podAnnotations });
      await applySandboxSecurity(spec, config.linux?.security_context ?? {}, securitySettings(this.config), 'config.linux.security_context');
      const snapshotter = this.config.containerd.snapshotter;
      // under a lease until the container record holds the snapshot, so no collection takes it first
      const lease = await takeLease(this.rpc, 3600_000);
      undo.push(() => lease.release());
      const { mounts } = await lease.rpc.unary<{ mounts: unknown[] }>(SERVICES.snapshots, 'Prepare', { snapshotter, key: id, parent: image.chainId, labels: {} });
      undo.push(() => this.rpc.unary(SERVICES.snapshots, 'Remove', { snapshotter, key: id }).catch(ignoreNotFound));
      await this.rpc.unary(SERVICES.containers, 'Create', {
        container: {
          id,
          image: image.name,
          labels: { ...(config.labels ?? {}), [KIND_LABEL]: 'sandbox' },
          runtime: { name: runtime.type, options: runtime.options },
          spec: { type_url: SPEC_TYPE_URL, value: Buffer.from(JSON.stringify(spec)) },
          snapshotter,
          snapshot_key: id,
        },
      });
      undo.push(() => this.rpc.unary(SERVICES.containers, 'Delete', { id }).catch(ignoreNotFound));
      await this.rpc.unary(SERVICES.tasks, 'Create', { container_id: id, rootfs: mounts, stdin: '', stdout: '', stderr: '', terminal: false });
      undo.push(() => this.rpc.unary(SERVICES.tasks, 'Delete', { container_id: id }).catch(ignoreNotFound));
      undo.push(() => this.killTask(id));
      const { pid } = await this.rpc.unary<{ pid: number }>(SERVICES.tasks, 'Start', { container_id: id });
      await lease.release().catch(() => undefined);

      const metadataRecord = { name: metadata.name, uid: metadata.uid, namespace: metadata.namespace, attempt: metadata.attempt };
      await this.pods.created(CRI_NAMESPACE, { id, metadata: metadataRecord, config: plain(config), runtimeHandler, netnsPath, ips, cniResults, pid }, meta);
      await journal.done();
      return id;
    } catch (err) {
      for (const step of undo.reverse()) await step().catch(() => undefined);
      throw err;
    } finally {
      this.starting.delete(id);
    }
  }

  /**
   * At start-up, the RunPodSandbox calls a crash cut off: a pod directory with no pod record in
   * the log. What they made is undone from the setup journal (CNI DEL of each attachment begun,
   * the netns) and by the pod's id (pause task, container, snapshot, /dev/shm, directories), as
   * the daemon's reconciler does for tasks. Returns one line per pod undone.
   */
  async reconcileUnfinished(): Promise<string[]> {
    const lines: string[] = [];
    for (const id of await readdir(join(this.dirs.root, 'sandboxes')).catch(() => [] as string[])) {
      if (this.starting.has(id) || this.pods.get(CRI_NAMESPACE, id)) continue;
      const setup = await readPodSetup(this.sandboxDir(id));
      const problems: string[] = [];
      const attempt = (what: string, step: () => Promise<unknown>) => step().catch((err: Error) => problems.push(`${what}: ${err.message}`));
      await attempt('pause task', () => this.killTask(id).then(() => this.rpc.unary(SERVICES.tasks, 'Delete', { container_id: id }).catch(ignoreNotFound)));
      await attempt('container', () => this.rpc.unary(SERVICES.containers, 'Delete', { id }).catch(ignoreNotFound));
      await attempt('snapshot', () => this.rpc.unary(SERVICES.snapshots, 'Remove', { snapshotter: this.config.containerd.snapshotter, key: id }).catch(ignoreNotFound));
      if (setup?.netnsPath) {
        const netns = existsSync(setup.netnsPath) ? setup.netnsPath : '';
        const byName = new Map((await this.networks().catch(() => [LOOPBACK_NETWORK])).map((n) => [n.name, n]));
        for (const { network, ifname } of [...setup.networks].reverse()) {
          const conf = byName.get(network);
          if (conf) await attempt(`CNI DEL ${network}`, () => cniDel(conf, this.invocation(id, checkMetadata(setup.config), netns, ifname, setup.config), undefined));
          else problems.push(`CNI DEL ${network}: its config is gone`);
        }
        await attempt('netns', () => removeNetns(setup.netnsPath!));
      }
      await attempt('shm', () => unmount(join(this.volatileDir(id), 'shm'), { lazy: true }));
      await rm(this.volatileDir(id), { recursive: true, force: true });
      await rm(this.sandboxDir(id), { recursive: true, force: true });
      const made = setup?.netnsPath ? `netns ${setup.netnsPath}, ${setup.networks.length} CNI attachment(s)` : 'no netns';
      lines.push(`pod sandbox ${id}: a RunPodSandbox cut off by a crash, undone (${made})${problems.length ? `; left: ${problems.join('; ')}` : ''}`);
    }
    return lines;
  }

  /** Kills the pause process, detaches the networks and removes the netns. Idempotent. */
  async stop(id: string, meta: RequestMeta): Promise<void> {
    const pod = this.get(id);
    await this.containers?.stopAll(pod.id);
    await this.killTask(pod.id);
    await this.rpc.unary(SERVICES.tasks, 'Delete', { container_id: pod.id }).catch(ignoreNotFound);
    if (!pod.stopped) {
      if (pod.netnsPath) await this.detachNetworks(pod);
      await removeNetns(pod.netnsPath);
    }
    await unmount(join(this.volatileDir(pod.id), 'shm'), { lazy: true });
    await this.pods.stopped(CRI_NAMESPACE, pod.id, meta);
  }

  /** Stops the pod if it runs, then removes its container, snapshot and files. A missing pod is no error. */
  async remove(id: string, meta: RequestMeta): Promise<void> {
    const pod = this.find(id);
    if (!pod) return;
    await this.stop(pod.id, meta);
    await this.containers?.removeAll(pod.id, meta);
    await this.rpc.unary(SERVICES.containers, 'Delete', { id: pod.id }).catch(ignoreNotFound);
    await this.rpc.unary(SERVICES.snapshots, 'Remove', { snapshotter: this.config.containerd.snapshotter, key: pod.id }).catch(ignoreNotFound);
    await rm(this.sandboxDir(pod.id), { recursive: true, force: true });
    await rm(this.volatileDir(pod.id), { recursive: true, force: true });
    await this.pods.removed(CRI_NAMESPACE, pod.id, meta);
  }

  /** containerd's sandbox shm: a 64 MiB tmpfs the pod's containers share (with host IPC, the host's /dev/shm). */
  private async mountShm(id: string, config: PodSandboxConfig, undo: (() => Promise<unknown>)[]): Promise<string> {
    if (namespaceModes(config).ipc === 'NODE') return '/dev/shm';
    const shm = join(this.volatileDir(id), 'shm');
    await mkdir(shm, { recursive: true, mode: 0o700 });
    undo.push(() => rm(this.volatileDir(id), { recursive: true, force: true }));
    await mount({ type: 'tmpfs', source: 'shm', options: ['nodev', 'noexec', 'nosuid', 'mode=1777', `size=${POD_SHM_SIZE}`] }, shm);
    undo.push(() => unmount(shm, { lazy: true }));
    return shm;
  }

  private async killTask(id: string): Promise<void> {
    const exited = this.rpc.unary(SERVICES.tasks, 'Wait', { container_id: id }).catch(() => undefined);
    try {
      await this.rpc.unary(SERVICES.tasks, 'Kill', { container_id: id, signal: 9, all: true });
    } catch (err) {
      // no task, or it is not running: nothing to wait for
      if (grpcCode(err) === Code.NotFound || grpcCode(err) === Code.FailedPrecondition) return;
      throw err;
    }
    await exited;
  }

  private async networks(): Promise<NetworkConfList[]> {
    const { networks, problems } = await loadNetworks(this.config.cni.conf_dir, this.config.cni.max_conf_num);
    if (networks.length === 0) {
      throw failedPrecondition(`cni config not initialized: no network config in ${this.config.cni.conf_dir}${problems.length ? ` (${problems.join('; ')})` : ''}`);
    }
    return [LOOPBACK_NETWORK, ...networks];
  }

  private invocation(id: string, metadata: ReturnType<typeof checkMetadata>, netns: string, ifname: string, config: PodSandboxConfig): CniInvocation {
    const portMappings = (config.port_mappings ?? [])
      .filter((p) => (p.host_port ?? 0) > 0)
      .map((p) => ({ hostPort: p.host_port, containerPort: p.container_port, protocol: (p.protocol ?? 'TCP').toLowerCase(), hostIP: p.host_ip ?? '' }));
    return {
      binDirs: this.config.cni.bin_dir.split(':').filter(Boolean),
      containerId: id,
      netns,
      ifname,
      args: { IgnoreUnknown: '1', K8S_POD_NAMESPACE: metadata.namespace, K8S_POD_NAME: metadata.name, K8S_POD_INFRA_CONTAINER_ID: id, K8S_POD_UID: metadata.uid },
      capabilities: { portMappings, 'io.kubernetes.cri.pod-annotations': config.annotations ?? {} },
    };
  }

  private async attachNetworks(id: string, metadata: ReturnType<typeof checkMetadata>, config: PodSandboxConfig, netns: string, undo: (() => Promise<unknown>)[], journal: PodSetupJournal) {
    const results: { network: string; ifname: string; result: unknown }[] = [];
    const networks = await this.networks();
    for (const [index, network] of networks.entries()) {
      const ifname = index === 0 ? 'lo' : `eth${index - 1}`;
      const call = this.invocation(id, metadata, netns, ifname, config);
      undo.push(() => cniDel(network, call, undefined));
      await journal.network(network.name, ifname);
      const result = await cniAdd(network, call);
      undo[undo.length - 1] = () => cniDel(network, call, result);
      results.push({ network: network.name, ifname, result });
    }
    const ips = results.filter((r) => r.ifname === 'eth0').flatMap((r) => addressesOn(r.result, 'eth0'));
    return { ips, results };
  }

  private async detachNetworks(pod: PodView): Promise<void> {
    const metadata = checkMetadata(pod.config as PodSandboxConfig);
    const byName = new Map((await this.networks().catch(() => [LOOPBACK_NETWORK])).map((n) => [n.name, n]));
    for (const { network, ifname, result } of [...pod.cniResults].reverse()) {
      const conf = byName.get(network);
      if (!conf) continue; // the network's config is gone: nothing can run its DEL
      await cniDel(conf, this.invocation(pod.id, metadata, pod.netnsPath, ifname, pod.config as PodSandboxConfig), result);
    }
  }

  /** The runtime a pod's sandbox (and so each of its containers) runs with. */
  runtimeOf(pod: PodView): PodRuntime {
    return this.runtimeFor(pod.runtimeHandler);
  }

  private runtimeFor(handler: string): PodRuntime {
    const name = handler || this.config.containerd.default_runtime_name;
    const runtime = this.config.containerd.runtimes[name];
    if (!runtime && handler) throw notFound(`no runtime for "${handler}" is configured`);
    const type = runtime?.runtime_type || 'io.containerd.runc.v2';
    return {
      type,
      options: runtimeOptions(type, runtime?.options),
      podAnnotations: runtime?.pod_annotations ?? [],
      privilegedWithoutHostDevices: Boolean(runtime?.privileged_without_host_devices),
    };
  }

  /** The image's record name, pulling it first when it is not there. */
  private async ensureImage(reference: string): Promise<string> {
    const name = formatReference(parseImageRef(reference));
    if (!(await this.images.find(name))) await this.images.pull(name, undefined);
    return name;
  }
}

function checkMetadata(config: PodSandboxConfig) {
  const m = config?.metadata;
  if (!m) throw invalidArgument('config.metadata: must be set');
  for (const field of ['name', 'uid', 'namespace'] as const) {
    if (!m[field]) throw invalidArgument(`config.metadata.${field}: must be set`);
  }
  return { name: m.name!, uid: m.uid!, namespace: m.namespace!, attempt: Number(m.attempt ?? 0) };
}

/** The request as plain data (grpc-js objects may carry prototypes msgpack would not keep). */
const plain = (value: PodSandboxConfig): Record<string, unknown> => JSON.parse(JSON.stringify(value));
