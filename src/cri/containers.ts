// The CRI's containers in pods (pkg/cri/server/container_*.go): a containerd container (snapshot
// on the image's chain, spec from the image config and the ContainerConfig, joined to the pod's
// namespaces) recorded as CriContainerCreated; a task whose output the daemon copies into the
// CRI log file; start and exit known from the task's events.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { Writable } from 'node:stream';
import { runnableImage } from '../client/run/image-config.js';
import { defaultSpec, mergeEnv, parsePasswd, PROCESS_TYPE_URL, resolveUser, SPEC_TYPE_URL, withImageConfig, withTerminal, type ProcessSpec, type RuntimeSpec } from '../client/run/oci-spec.js';
import { fifoIO, reopenFifoIO, type TaskIO } from '../client/run/task-io.js';
import { takeLease } from '../client/pull/lease.js';
import { grpcCode, SERVICES, type Rpc } from '../client/rpc.js';
import type { CriContainerCommands } from '../commands/cri-containers.js';
import type { RequestMeta } from '../commands/context.js';
import { criContainerState, type CriContainerView, type PodView } from '../projections/index.js';
import { Code } from '../util/grpc-codes.js';
import { failedPrecondition, invalidArgument, notFound } from '../util/errdefs.js';
import { mountPointsUnder, unmount, withTempMount, type Mount } from '../util/mount/index.js';
import { CRI_NAMESPACE, type CriConfig } from './config.js';
import type { CriImages } from './images.js';
import { ContainerIO } from './container-io.js';
import { CriLogFile } from './log-writer.js';
import { cgroupStats, cgroupStatsAt, networkStats, sumStats, type CgroupStats, type InterfaceStats } from './stats.js';
import { applyContainerResources, criResources, resourceRules, withResources, type OciResources } from './resources.js';
import { withDevices, withHostDevices } from './devices.js';
import { withContainerMounts } from './mounts.js';
import { cgroupsPath } from './runtime-options.js';
import { applyContainerSecurity, securitySettings } from './security.js';
import { ANNOTATIONS, namespaceModes } from './sandbox-spec.js';
import type { CriPods } from './pods.js';
import { KIND_LABEL } from './pods.js';
import type { ContainerConfig, LinuxContainerResources, PodSandboxConfig } from './types.js';

const ignoreNotFound = (err: unknown) => {
  if (grpcCode(err) !== Code.NotFound) throw err;
};

const discard = () => new Writable({ write: (_chunk, _encoding, done) => done() });

export interface ExecResult {
  readonly stdout: Buffer;
  readonly stderr: Buffer;
  readonly exitCode: number;
}

export interface ContainerStats {
  readonly timestamp: bigint;
  readonly cgroup?: CgroupStats;
  readonly writableLayer?: { readonly size: number; readonly inodes: number };
}

/** The Any type of a task update's resources (containerd's WithResources). */
const LINUX_RESOURCES_TYPE_URL = 'types.containerd.io/opencontainers/runtime-spec/1/LinuxResources';

/** The CRI's view of the resources a spec holds. */
const effectiveResources = (spec: RuntimeSpec) => criResources((spec.linux as { resources?: OciResources }).resources, spec.process.oomScoreAdj) as Record<string, unknown>;

export interface PodStats {
  readonly timestamp: bigint;
  readonly cgroup?: CgroupStats;
  readonly network: readonly InterfaceStats[];
  readonly containers: readonly { readonly container: CriContainerView; readonly stats: ContainerStats }[];
}

/** Written into a container's directory when CreateContainer begins, removed once it is recorded. */
const CREATE_MARKER = 'create.json';

interface CreateMarker {
  readonly podId: string;
  readonly snapshotter: string;
  readonly lease: string;
}

export class CriContainers {
  /** The stdio of the containers this daemon started, while their output lasts (for Attach). */
  private readonly stdio = new Map<string, ContainerIO>();
  /** The open log file of each running container this daemon copies output for. */
  private readonly logs = new Map<string, CriLogFile>();
  /** The CreateContainer calls in progress (their directories are not a crash's leftovers). */
  private readonly creating = new Set<string>();
  /** The update in progress per container: updates of one container run one after the other. */
  private readonly updating = new Map<string, Promise<void>>();

  constructor(
    private readonly rpc: Rpc,
    private readonly config: CriConfig,
    private readonly images: CriImages,
    private readonly pods: CriPods,
    private readonly containers: CriContainerCommands,
    private readonly stateDir: string,
  ) {}

  get(id: string): CriContainerView {
    const container = this.find(id);
    if (!container) throw notFound(`container "${id}"`);
    return container;
  }

  find(id: string): CriContainerView | undefined {
    if (!id) throw invalidArgument('container_id: must be set');
    const exact = this.containers.get(CRI_NAMESPACE, id);
    if (exact) return exact;
    const matches = this.list().filter((c) => c.id.startsWith(id));
    return matches.length === 1 ? matches[0] : undefined;
  }

  list(): CriContainerView[] {
    return this.containers.list(CRI_NAMESPACE);
  }

  async create(podId: string, config: ContainerConfig, meta: RequestMeta): Promise<string> {
    const pod = this.pods.get(podId);
    if (pod.state !== 'SANDBOX_READY') throw failedPrecondition(`pod sandbox ${pod.id} is not ready`);
    const name = config.metadata?.name;
    if (!name) throw invalidArgument('config.metadata.name: must be set');
    const attempt = Number(config.metadata?.attempt ?? 0);
    if (this.containers.byName(CRI_NAMESPACE, pod.id, name, attempt)) throw failedPrecondition(`container "${name}" (attempt ${attempt}) already exists in pod ${pod.id}`);
    const imageRef = config.image?.image ?? '';
    const image = await this.images.find(imageRef);
    if (!image) throw notFound(`image "${imageRef}"`);
    const runnable = await runnableImage(this.rpc, image.names.find((n) => n !== image.id) ?? image.id);
    const id = randomBytes(32).toString('hex');
    const snapshotter = this.config.containerd.snapshotter;
    const dir = this.containerDir(id);
    this.creating.add(id);
    // under a lease until the container record holds the snapshot, so no collection takes it first
    const lease = await takeLease(this.rpc, 3600_000);
    try {
      // the marker goes down before anything outside the directory is made: a crash from here on
      // until the record is appended leaves it, and reconcileUnfinished undoes the rest by the id
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, CREATE_MARKER), JSON.stringify({ podId: pod.id, snapshotter, lease: lease.id }));
      const { mounts } = await lease.rpc.unary<{ mounts: Mount[] }>(SERVICES.snapshots, 'Prepare', { snapshotter, key: id, parent: runnable.chainId, labels: {} });
      const spec = await this.spec(id, pod, config, runnable.config, mounts, image.id);
      await this.rpc.unary(SERVICES.containers, 'Create', {
        container: {
          id,
          image: runnable.name,
          labels: { ...(config.labels ?? {}), [KIND_LABEL]: 'container' },
          runtime: { name: this.pods.runtimeOf(pod).type, options: this.pods.runtimeOf(pod).options },
          spec: { type_url: SPEC_TYPE_URL, value: Buffer.from(JSON.stringify(spec)) },
          snapshotter,
          snapshot_key: id,
        },
      });
      const logDir = (pod.config as PodSandboxConfig).log_directory ?? '';
      const logPath = config.log_path && logDir ? join(logDir, config.log_path) : config.log_path && isAbsolute(config.log_path) ? config.log_path : '';
      await this.containers.created(CRI_NAMESPACE, { id, podId: pod.id, metadata: { name, attempt }, config: JSON.parse(JSON.stringify(config)), imageId: image.id, imageRef, logPath, resources: effectiveResources(spec) }, meta);
      await rm(join(dir, CREATE_MARKER), { force: true });
    } catch (err) {
      await this.undoCreate(id, snapshotter).catch(() => undefined);
      throw err;
    } finally {
      this.creating.delete(id);
      await lease.release().catch(() => undefined);
    }
    return id;
  }

  async start(id: string): Promise<void> {
    const container = this.get(id);
    if (criContainerState(container) !== 'CONTAINER_CREATED') throw failedPrecondition(`container ${container.id} is ${criContainerState(container)}, not CONTAINER_CREATED`);
    const pod = this.pods.get(container.podId);
    if (pod.state !== 'SANDBOX_READY') throw failedPrecondition(`pod sandbox ${pod.id} is not ready`);
    const { mounts } = await this.rpc.unary<{ mounts: Mount[] }>(SERVICES.snapshots, 'Mounts', { snapshotter: this.config.containerd.snapshotter, key: container.id });
    const tty = Boolean((container.config as ContainerConfig).tty);
    const output = await this.openOutput(container);
    const io = fifoIO({ fifoRoot: join(this.stateDir, 'containers', container.id, 'io'), id: container.id, stdin: output.stdio.stdin, stdout: output.stdio.stdout, stderr: output.stdio.stderr, terminal: tty });
    try {
      await this.rpc.unary(SERVICES.tasks, 'Create', { container_id: container.id, rootfs: mounts, stdin: io.stdin, stdout: io.stdout, stderr: io.stderr, terminal: tty });
      await this.rpc.unary(SERVICES.tasks, 'Start', { container_id: container.id });
    } catch (err) {
      io.close();
      await output.log?.close();
      await this.rpc.unary(SERVICES.tasks, 'Delete', { container_id: container.id }).catch(() => undefined);
      throw err;
    }
    this.follow(container.id, io, output);
    await this.containers.until(CRI_NAMESPACE, container.id, (c) => criContainerState(c) !== 'CONTAINER_CREATED');
  }

  /** A container's files: the create marker, its FIFOs, the image's rootfs while the spec is made. */
  private containerDir(id: string): string {
    return join(this.stateDir, 'containers', id);
  }

  /** Removes what a CreateContainer made, whichever of it exists: containerd container, snapshot, directory. */
  private async undoCreate(id: string, snapshotter: string): Promise<void> {
    for (const mountPoint of mountPointsUnder(this.containerDir(id))) await unmount(mountPoint, { lazy: true });
    await this.rpc.unary(SERVICES.containers, 'Delete', { id }).catch(ignoreNotFound);
    await this.rpc.unary(SERVICES.snapshots, 'Remove', { snapshotter, key: id }).catch(ignoreNotFound);
    await rm(this.containerDir(id), { recursive: true, force: true });
  }

  /**
   * At start-up, the CreateContainer calls a crash cut off: a container directory that still has
   * its create marker and no container record in the log. Their containerd container, snapshot,
   * lease and directory are removed. Returns one line per container undone.
   */
  async reconcileUnfinished(): Promise<string[]> {
    const lines: string[] = [];
    for (const id of await readdir(join(this.stateDir, 'containers')).catch(() => [] as string[])) {
      if (this.creating.has(id)) continue;
      const marker = await readFile(join(this.containerDir(id), CREATE_MARKER), 'utf8').then((text) => JSON.parse(text) as CreateMarker, () => undefined);
      if (!marker) continue;
      if (this.containers.get(CRI_NAMESPACE, id)) {
        // recorded, then cut off before the marker went
        await rm(join(this.containerDir(id), CREATE_MARKER), { force: true });
        continue;
      }
      try {
        await this.undoCreate(id, marker.snapshotter);
        await this.rpc.unary(SERVICES.leases, 'Delete', { id: marker.lease, sync: false }).catch(ignoreNotFound);
        lines.push(`cri container ${id}: a CreateContainer cut off by a crash, undone (containerd container, snapshot, directory)`);
      } catch (err) {
        lines.push(`cri container ${id}: a CreateContainer cut off by a crash, not undone: ${(err as Error).message}`);
      }
    }
    return lines;
  }

  /**
   * After a daemon restart, the running containers' output goes on into their logs: their task's
   * FIFOs (where the shim kept writing, up to the pipe's capacity) are read again, as containerd's
   * CRI reloads a container's IO at start-up. Returns one line per container reattached.
   */
  async reattachAll(): Promise<string[]> {
    const lines: string[] = [];
    for (const container of this.list().filter((c) => criContainerState(c) === 'CONTAINER_RUNNING' && !this.stdio.has(c.id))) {
      try {
        const { process } = await this.rpc.unary<{ process: { stdin: string; stdout: string; stderr: string; terminal: boolean } }>(SERVICES.tasks, 'Get', { container_id: container.id });
        if (!process.stdout && !process.stderr) continue;
        const output = await this.openOutput(container);
        this.follow(container.id, reopenFifoIO(process, { stdin: output.stdio.stdin, stdout: output.stdio.stdout, stderr: output.stdio.stderr, terminal: process.terminal }), output);
        lines.push(`cri container ${container.id}: output reattached${container.logPath ? ` to ${container.logPath}` : ''}`);
      } catch (err) {
        lines.push(`cri container ${container.id}: output not reattached: ${(err as Error).message}`);
      }
    }
    return lines;
  }

  /** A container's log file (if it has a log path) and the stdio that copies into it. */
  private async openOutput(container: CriContainerView): Promise<{ log?: CriLogFile; stdio: ContainerIO }> {
    const config = container.config as ContainerConfig;
    const log = container.logPath ? await CriLogFile.open(container.logPath) : undefined;
    const sinks = {
      stdout: log ? log.stream('stdout', this.config.max_container_log_line_size) : discard(),
      stderr: log ? log.stream('stderr', this.config.max_container_log_line_size) : discard(),
    };
    return { log, stdio: new ContainerIO(sinks, { stdin: Boolean(config.stdin), stdinOnce: Boolean(config.stdin_once), tty: Boolean(config.tty) }) };
  }

  /** Copies a started task's output until it ends, then closes the log. */
  private follow(id: string, io: TaskIO, { log, stdio }: { log?: CriLogFile; stdio: ContainerIO }): void {
    const { stdout, stderr } = stdio;
    io.attach();
    this.stdio.set(id, stdio);
    // stdin_once: the first attached client's input ended, so the container's does
    void io.stdinClosed.then(() => this.rpc.unary(SERVICES.tasks, 'CloseIO', { container_id: id, stdin: true }).catch(() => undefined));
    if (log) this.logs.set(id, log);
    void io.done.then(async () => {
      this.stdio.delete(id);
      // the log file closes only once both streams have put their last line into it
      await Promise.all([stdout, stderr].map((w) => new Promise<void>((resolve) => w.end(() => resolve()))));
      io.close();
      if (this.logs.get(id) === log) this.logs.delete(id);
      await log?.close();
    });
  }

  /** A running container's stdio to attach to; undefined when this daemon does not hold it. */
  attachable(id: string): ContainerIO | undefined {
    return this.stdio.get(id);
  }

  /** ReopenContainerLog: a new file at the log path of a running container (after log rotation moved the old one). */
  async reopenLog(id: string): Promise<void> {
    const container = this.get(id);
    if (criContainerState(container) !== 'CONTAINER_RUNNING') throw failedPrecondition(`container ${container.id} is not running`);
    await this.logs.get(container.id)?.reopen();
  }

  /**
   * UpdateContainerResources (container_update_resources.go): the request's set fields into the
   * spec, then into the running task's cgroup; a failed task update puts the old spec back. The
   * spec holds the limits a later start applies; the record tells a restarted daemon what is in effect.
   */
  async updateResources(id: string, resources: LinuxContainerResources | null | undefined, meta: RequestMeta): Promise<void> {
    const container = this.get(id);
    const previous = this.updating.get(container.id) ?? Promise.resolve();
    const update = previous.catch(() => undefined).then(() => this.applyUpdate(container.id, resources, meta));
    this.updating.set(container.id, update);
    try {
      await update;
    } finally {
      if (this.updating.get(container.id) === update) this.updating.delete(container.id);
    }
  }

  private async applyUpdate(id: string, resources: LinuxContainerResources | null | undefined, meta: RequestMeta): Promise<void> {
    const { container: record } = await this.rpc.unary<{ container: { spec: { type_url: string; value: Buffer } } }>(SERVICES.containers, 'Get', { id });
    const oldSpec = JSON.parse(Buffer.from(record.spec.value).toString('utf8')) as RuntimeSpec;
    const newSpec = structuredClone(oldSpec);
    const linux = newSpec.linux as { resources?: OciResources };
    linux.resources = withResources(linux.resources, resources, resourceRules(this.config));
    const putSpec = (spec: RuntimeSpec) =>
      this.rpc.unary(SERVICES.containers, 'Update', { container: { id, spec: { type_url: record.spec.type_url, value: Buffer.from(JSON.stringify(spec)) } }, update_mask: { paths: ['spec'] } });
    await putSpec(newSpec);
    if (criContainerState(this.get(id)) === 'CONTAINER_RUNNING') {
      try {
        await this.rpc.unary(SERVICES.tasks, 'Update', { container_id: id, resources: { type_url: LINUX_RESOURCES_TYPE_URL, value: Buffer.from(JSON.stringify(linux.resources)) } });
      } catch (err) {
        // a task that has exited meanwhile takes no update, and needs none
        if (grpcCode(err) !== Code.NotFound) {
          await putSpec(oldSpec).catch(() => undefined);
          throw err;
        }
      }
    }
    await this.containers.resourcesUpdated(CRI_NAMESPACE, id, effectiveResources(newSpec), meta);
  }

  /** CPU and memory from the cgroup of a running container, and its writable layer's use. */
  async stats(container: CriContainerView): Promise<ContainerStats> {
    const timestamp = BigInt(Date.now()) * 1_000_000n;
    const cgroup = criContainerState(container) === 'CONTAINER_RUNNING' ? await cgroupStats(container.pid) : undefined;
    const usage = await this.rpc
      .unary<{ size: number; inodes: number }>(SERVICES.snapshots, 'Usage', { snapshotter: this.config.containerd.snapshotter, key: container.id })
      .catch(() => undefined);
    return { timestamp, cgroup, writableLayer: usage };
  }

  /**
   * PodSandboxStats (containerd 1.7's sandbox_stats_linux.go): the pod's cgroup (its cgroup parent,
   * where kubelet puts one; else the pause and container cgroups summed), the network use of its
   * namespace, and each container's stats.
   */
  async podStats(pod: PodView): Promise<PodStats> {
    const timestamp = BigInt(Date.now()) * 1_000_000n;
    const members = this.list().filter((c) => c.podId === pod.id);
    const containers = await Promise.all(members.map(async (container) => ({ container, stats: await this.stats(container) })));
    if (pod.state !== 'SANDBOX_READY' || !pod.pid) return { timestamp, network: [], containers };
    const parent = (pod.config as PodSandboxConfig).linux?.cgroup_parent;
    const cgroup = parent ? await cgroupStatsAt(parent, pod.pid) : sumStats([await cgroupStats(pod.pid), ...containers.map((c) => c.stats.cgroup)]);
    return { timestamp, cgroup, network: pod.netnsPath ? await networkStats(pod.pid) : [], containers };
  }

  /** Every container of a pod stopped at once (StopPodSandbox). */
  async stopAll(podId: string): Promise<void> {
    await Promise.all(this.list().filter((c) => c.podId === podId).map((c) => this.stop(c.id, 0)));
  }

  async removeAll(podId: string, meta: RequestMeta): Promise<void> {
    for (const c of this.list().filter((c) => c.podId === podId)) await this.remove(c.id, meta);
  }

  /** SIGTERM, then SIGKILL after `timeout` seconds (at once with 0); waits for the exit. Idempotent. */
  async stop(id: string, timeout: number): Promise<void> {
    const container = this.get(id);
    if (criContainerState(container) !== 'CONTAINER_RUNNING') return;
    const exited = this.rpc.unary(SERVICES.tasks, 'Wait', { container_id: container.id }).catch(() => undefined);
    const kill = (signal: number) => this.rpc.unary(SERVICES.tasks, 'Kill', { container_id: container.id, signal, all: true }).catch(ignoreNotFound);
    if (timeout > 0) {
      await kill(15);
      const inTime = await Promise.race([exited.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), timeout * 1000).unref())]);
      if (inTime) return this.containers.until(CRI_NAMESPACE, container.id, (c) => criContainerState(c) === 'CONTAINER_EXITED');
    }
    await kill(9);
    await exited;
    await this.containers.until(CRI_NAMESPACE, container.id, (c) => criContainerState(c) === 'CONTAINER_EXITED');
  }

  /** Stops it if it runs, then removes task, container, snapshot and files. A missing one is no error. */
  async remove(id: string, meta: RequestMeta): Promise<void> {
    const container = this.find(id);
    if (!container) return;
    await this.stop(container.id, 0);
    await this.rpc.unary(SERVICES.tasks, 'Delete', { container_id: container.id }).catch(ignoreNotFound);
    await this.rpc.unary(SERVICES.containers, 'Delete', { id: container.id }).catch(ignoreNotFound);
    await this.rpc.unary(SERVICES.snapshots, 'Remove', { snapshotter: this.config.containerd.snapshotter, key: container.id }).catch(ignoreNotFound);
    await rm(join(this.stateDir, 'containers', container.id), { recursive: true, force: true });
    await this.containers.removed(CRI_NAMESPACE, container.id, meta);
  }

  /** ExecSync: the command in the container, its output collected; `timeout` seconds, 0 = none. */
  async execSync(id: string, cmd: readonly string[], timeout: number): Promise<ExecResult> {
    const container = this.get(id);
    if (criContainerState(container) !== 'CONTAINER_RUNNING') throw failedPrecondition(`container ${container.id} is not running`);
    if (cmd.length === 0) throw invalidArgument('cmd: must name a command');
    const { container: record } = await this.rpc.unary<{ container: { spec: { value: Buffer } } }>(SERVICES.containers, 'Get', { id: container.id });
    const process: ProcessSpec = { ...JSON.parse(Buffer.from(record.spec.value).toString('utf8')).process, args: [...cmd], terminal: false };
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const collect = (into: Buffer[]) => new Writable({ write: (chunk: Buffer, _e, done) => (into.push(chunk), done()) });
    const execId = `exec-${randomBytes(8).toString('hex')}`;
    const io = fifoIO({ fifoRoot: join(this.stateDir, 'containers', container.id, 'exec'), id: execId, stdout: collect(out), stderr: collect(err), terminal: false });
    try {
      await this.rpc.unary(SERVICES.tasks, 'Exec', {
        container_id: container.id,
        exec_id: execId,
        stdin: '',
        stdout: io.stdout,
        stderr: io.stderr,
        terminal: false,
        spec: { type_url: PROCESS_TYPE_URL, value: Buffer.from(JSON.stringify(process)) },
      });
      const exited = this.rpc.unary<{ exit_status: number }>(SERVICES.tasks, 'Wait', { container_id: container.id, exec_id: execId });
      await this.rpc.unary(SERVICES.tasks, 'Start', { container_id: container.id, exec_id: execId });
      io.attach();
      let timer: NodeJS.Timeout | undefined;
      const deadline = timeout > 0 ? new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`command timed out after ${timeout}s`)), timeout * 1000))) : undefined;
      try {
        const { exit_status } = await (deadline ? Promise.race([exited, deadline]) : exited);
        await io.done;
        return { stdout: Buffer.concat(out), stderr: Buffer.concat(err), exitCode: exit_status };
      } catch (e) {
        await this.rpc.unary(SERVICES.tasks, 'Kill', { container_id: container.id, exec_id: execId, signal: 9 }).catch(() => undefined);
        throw Object.assign(new Error((e as Error).message), { code: Code.DeadlineExceeded });
      } finally {
        clearTimeout(timer);
      }
    } finally {
      await this.rpc.unary(SERVICES.tasks, 'DeleteProcess', { container_id: container.id, exec_id: execId }).catch(() => undefined);
      io.close();
    }
  }

  private async spec(id: string, pod: PodView, config: ContainerConfig, image: { Entrypoint?: string[]; Cmd?: string[]; Env?: string[]; WorkingDir?: string; User?: string }, rootfs: Mount[], imageId: string): Promise<RuntimeSpec> {
    const podConfig = pod.config as PodSandboxConfig;
    // CRI: command replaces the entrypoint (and then args alone are the cmd); args alone replace the cmd
    const entrypoint = config.command?.length ? config.command : (image.Entrypoint ?? []);
    const cmd = config.command?.length || config.args?.length ? (config.args ?? []) : (image.Cmd ?? []);
    const security = config.linux?.security_context ?? {};
    if (security.run_as_group && !security.run_as_user && !security.run_as_username) throw invalidArgument('config.linux.security_context.run_as_group: user group is specified without user');
    const user = security.run_as_user ? String(security.run_as_user.value ?? 0) : security.run_as_username || image.User;
    const { passwd, groups } = await withTempMount(
      rootfs,
      async (root) => ({
        passwd: parsePasswd(await readFile(join(root, 'etc', 'passwd'), 'utf8').catch(() => '')),
        groups: await readFile(join(root, 'etc', 'group'), 'utf8').catch(() => ''),
      }),
      this.containerDir(id),
    );
    const spec = withImageConfig(defaultSpec(CRI_NAMESPACE, id), { ...image, Entrypoint: [], Cmd: [], User: undefined }, []);
    spec.process.args = [...entrypoint, ...cmd];
    if (spec.process.args.length === 0) throw invalidArgument('config: no command: neither the config nor the image names one');
    spec.process.env = mergeEnv(spec.process.env, (config.envs ?? []).map((e) => `${e.key ?? ''}=${e.value ?? ''}`));
    if (config.working_dir) spec.process.cwd = config.working_dir;
    if (user) spec.process.user = resolveUser(user, passwd);
    if (security.run_as_group) spec.process.user.gid = Number(security.run_as_group.value ?? 0);
    const userName = passwd.find((e) => e.uid === spec.process.user.uid)?.name;
    const additional = [...(userName ? groupsOf(groups, userName) : []), ...(security.supplemental_groups ?? []).map(Number)].filter((g) => g !== spec.process.user.gid);
    if (additional.length > 0) spec.process.user.additionalGids = [...new Set(additional)];
    spec.process.noNewPrivileges = Boolean(security.no_new_privs);
    if (config.tty) withTerminal(spec);
    if (security.readonly_rootfs) spec.root.readonly = true;
    const sandboxDir = this.pods.sandboxDir(pod.id);
    const devShm = this.pods.devShm(pod);
    const podFiles = [
      ...['hostname', 'hosts', 'resolv.conf'].map((file) => ({ container_path: `/etc/${file}`, host_path: join(sandboxDir, file), readonly: Boolean(security.readonly_rootfs) })),
      ...(existsSync(devShm) ? [{ container_path: '/dev/shm', host_path: devShm }] : []),
    ];
    await withContainerMounts(spec, config.mounts ?? [], podFiles);
    if (security.privileged && !podConfig.linux?.security_context?.privileged) {
      throw invalidArgument('config.linux.security_context.privileged: no privileged container allowed in a sandbox that is not privileged');
    }
    await applyContainerSecurity(spec, security, securitySettings(this.config), 'config.linux.security_context');
    const linux = spec.linux as { namespaces: { type: string; path?: string }[]; cgroupsPath?: string };
    const modes = namespaceModes(podConfig);
    // the container's own pid mode: POD (the enum's zero) shares the pause process's namespace
    const pidMode = security.namespace_options?.pid ?? 'POD';
    linux.namespaces = linux.namespaces.flatMap((ns) => {
      if (ns.type === 'network') return modes.network === 'NODE' ? [] : [{ type: 'network', path: `/proc/${pod.pid}/ns/net` }];
      if (ns.type === 'ipc') return modes.ipc === 'NODE' ? [] : [{ type: 'ipc', path: `/proc/${pod.pid}/ns/ipc` }];
      if (ns.type === 'uts') return [{ type: 'uts', path: `/proc/${pod.pid}/ns/uts` }];
      if (ns.type === 'pid') return pidMode === 'NODE' ? [] : pidMode === 'POD' ? [{ type: 'pid', path: `/proc/${pod.pid}/ns/pid` }] : [ns];
      return [ns];
    });
    // a cgroup namespace hides the host's hierarchy, on cgroup v2 only and not from privileged containers (as containerd)
    if (!security.privileged && existsSync('/sys/fs/cgroup/cgroup.controllers')) linux.namespaces.push({ type: 'cgroup' });
    if (podConfig.linux?.cgroup_parent) linux.cgroupsPath = cgroupsPath(podConfig.linux.cgroup_parent, id);
    applyContainerResources(spec, config.linux?.resources, this.config);
    await withDevices(spec, config.devices ?? []);
    if (security.privileged && !this.pods.runtimeOf(pod).privilegedWithoutHostDevices) await withHostDevices(spec);
    spec.annotations = {
      ...(config.annotations ?? {}),
      [ANNOTATIONS.containerType]: 'container',
      [ANNOTATIONS.sandboxId]: pod.id,
      [ANNOTATIONS.sandboxName]: pod.metadata.name,
      [ANNOTATIONS.sandboxNamespace]: pod.metadata.namespace,
      'io.kubernetes.cri.container-name': config.metadata?.name ?? '',
      'io.kubernetes.cri.image-name': imageId,
    };
    return spec;
  }
}

/** The groups of /etc/group that list `user` as a member. */
function groupsOf(groupFile: string, user: string): number[] {
  return groupFile
    .split('\n')
    .map((line) => line.split(':'))
    .filter(([, , gid, members]) => /^\d+$/.test(gid ?? '') && (members ?? '').split(',').includes(user))
    .map(([, , gid]) => Number(gid));
}
