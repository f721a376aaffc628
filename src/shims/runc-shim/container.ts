// One container of the shim: its bundle, rootfs mounts, init process, exec processes and
// cgroup (containerd's runtime/v2/runc/container.go).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { alreadyExists, failedPrecondition, invalidArgument, notFound } from '../../util/errdefs.js';
import { isExecutableFile, lookPath } from '../shared/look-path.js';
import type { CreateTaskRequestValue, MountValue } from '../wire/protocol/task.js';
import { cgroupOf, type Cgroup } from './cgroups.js';
import { ExecProcess } from './exec.js';
import { InitProcess } from './init.js';
import { OPTIONS_FILE, RUNTIME_FILE, optionsJson, runcOptions } from '../shared/runc-options.js';
import { runcFor } from './runc.js';
import type { ShimProcess } from './process.js';
import { loadMount, unmountRootfs } from './rootfs.js';

export class Container {
  readonly execs = new Map<string, ExecProcess>();
  cgroup: Cgroup | undefined;
  /** True while Start runs: exits wait so that /tasks/start is published before /tasks/exit. */
  starting = false;

  private constructor(
    readonly id: string,
    readonly bundle: string,
    readonly rootfs: string,
    readonly rootfsMounts: MountValue[],
    readonly init: InitProcess,
    /** The init's exit takes the container's other processes with it (read at Create, not on the exit path). */
    readonly killAllOnExit: boolean,
  ) {}

  static async create(namespace: string, request: CreateTaskRequestValue): Promise<Container> {
    if (!request.bundle) throw invalidArgument('bundle must not be empty');
    if (request.checkpoint) throw invalidArgument('checkpoint: restoring a checkpoint is not supported by this shim');
    const options = runcOptions(request.options);
    const runtime = options.binary_name || 'runc';
    const found = lookPath(runtime);
    if (!found || !isExecutableFile(found)) {
      throw failedPrecondition(`runtime binary ${JSON.stringify(runtime)} not found: ${runtime.includes('/') ? 'no executable file at that path' : 'no executable file of that name on $PATH'}`);
    }
    const rootfs = request.rootfs.length > 0 ? join(request.bundle, 'rootfs') : '';
    if (rootfs) mkdirSync(rootfs, { mode: 0o711, recursive: true });
    writeFileSync(join(request.bundle, OPTIONS_FILE), optionsJson(options), { mode: 0o600 });
    writeFileSync(join(request.bundle, RUNTIME_FILE), options.binary_name, { mode: 0o600 });

    let mounted = false;
    try {
      if (rootfs) {
        const { mountAll } = await loadMount();
        await mountAll(request.rootfs.map((m) => ({ type: m.type, source: m.source, options: m.options })), rootfs).catch((err: Error) => {
          throw new Error(`failed to mount rootfs component: ${err.message}`);
        });
        mounted = true;
      }
      const init = new InitProcess({
        id: request.id,
        bundle: request.bundle,
        namespace,
        stdio: { stdin: request.stdin, stdout: request.stdout, stderr: request.stderr, terminal: request.terminal },
        runc: runcFor(request.bundle, namespace, options),
        noPivotRoot: options.no_pivot_root,
        noNewKeyring: options.no_new_keyring,
        ioUid: options.io_uid,
        ioGid: options.io_gid,
        criuWorkPath: options.criu_work_path || join(request.bundle, 'work'),
      });
      await init.create();
      const container = new Container(request.id, request.bundle, rootfs, request.rootfs, init, shouldKillAllOnExit(request.bundle));
      container.cgroup = cgroupOf(init.pid);
      return container;
    } catch (err) {
      if (mounted) await unmountRootfs(rootfs);
      throw err;
    }
  }

  /** The init (empty exec id) or an exec process. */
  process(execId: string): ShimProcess {
    if (!execId) return this.init;
    const exec = this.execs.get(execId);
    if (!exec) throw notFound(`process does not exist ${execId}`);
    return exec;
  }

  exec(execId: string): ExecProcess {
    const exec = this.execs.get(execId);
    if (!exec) throw notFound(`process does not exist ${execId}`);
    return exec;
  }

  all(): ShimProcess[] {
    return [this.init, ...this.execs.values()];
  }

  /** Adds an exec process (not started yet); its id must not be in use. */
  addExec(execId: string, stdio: ExecProcess['stdio'], spec: Record<string, unknown>): ExecProcess {
    if (this.execs.has(execId)) throw alreadyExists(`id ${execId}`);
    this.init.checkExec();
    const exec = new ExecProcess(execId, stdio, this.init, spec);
    this.execs.set(execId, exec);
    return exec;
  }

  async deleteExec(execId: string): Promise<ExecProcess> {
    const exec = this.exec(execId);
    await exec.delete();
    this.execs.delete(execId);
    return exec;
  }

  /** Deletes the init (runc delete) and unmounts the rootfs. */
  async delete(): Promise<void> {
    await this.init.delete();
    if (this.rootfs) await unmountRootfs(this.rootfs);
  }
}

/** No private pid namespace in the bundle's spec (runc/util.go ShouldKillAllOnExit); an unreadable spec counts as none. */
function shouldKillAllOnExit(bundle: string): boolean {
  try {
    const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as { linux?: { namespaces?: Array<{ type?: string; path?: string }> } };
    return !(spec.linux?.namespaces ?? []).some((ns) => ns.type === 'pid' && !ns.path);
  } catch {
    return true;
  }
}
