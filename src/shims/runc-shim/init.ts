// The container's init process and its lifecycle (containerd's pkg/process init.go and
// init_state.go): create -> start -> (pause <-> resume) -> exit -> delete, with containerd's
// messages for every wrong transition.
import { join } from 'node:path';
import { notFound } from '../../util/errdefs.js';
import type { StdioPaths } from './process-io.js';
import { ShimProcess, runtimeError, type ProcessStatus } from './process.js';
import { INIT_PID_FILE } from '../shared/runc-options.js';
import { RuncError, type Runc } from './runc.js';

export interface InitConfig {
  readonly id: string;
  readonly bundle: string;
  readonly namespace: string;
  readonly stdio: StdioPaths;
  readonly runc: Runc;
  readonly noPivotRoot: boolean;
  readonly noNewKeyring: boolean;
  readonly ioUid: number;
  readonly ioGid: number;
  /** Where CRIU works and leaves its logs (<bundle>/work or options.criu_work_path). */
  readonly criuWorkPath: string;
}

/** containerd's checkKillError: what a failed kill means. */
export function killError(err: unknown): Error {
  const text = String((err as Error).message ?? err);
  if (/os: process already finished|container not running|no such process/i.test(text) || (err as NodeJS.ErrnoException).code === 'ESRCH') {
    return notFound('process already finished');
  }
  if (text.includes('does not exist')) return notFound('no such container');
  return new Error(`unknown error after kill: ${text}`);
}

export class InitProcess extends ShimProcess {
  private pausing = false;
  readonly runc: Runc;

  constructor(readonly config: InitConfig) {
    super(config.id, config.stdio);
    this.runc = config.runc;
  }

  status(): ProcessStatus {
    if (this.pausing) return 'pausing';
    return this.state === 'deleted' ? 'stopped' : this.state;
  }

  /** runc create: the container exists, its init waits for start. */
  async create(): Promise<void> {
    const { id, bundle } = this.config;
    const pidFile = join(bundle, INIT_PID_FILE);
    const owner = { uid: this.config.ioUid, gid: this.config.ioGid, namespace: this.config.namespace, containerId: id };
    await this.launch(owner, pidFile, (stdio, consoleSocket) =>
      this.runc
        .create(id, bundle, { pidFile, consoleSocket, noPivot: this.config.noPivotRoot, noNewKeyring: this.config.noNewKeyring, stdio })
        .catch((err: unknown) => {
          throw runtimeError(this.runc, err, 'OCI runtime create failed');
        }),
    );
  }

  async start(): Promise<void> {
    switch (this.state) {
      case 'created':
        break;
      case 'running':
        throw new Error('cannot start a running process');
      case 'paused':
        throw new Error('cannot start a paused process');
      case 'stopped':
        throw new Error('cannot start a stopped process');
      case 'deleted':
        throw new Error('cannot start a deleted process');
    }
    try {
      await this.runc.start(this.id);
    } catch (err) {
      throw runtimeError(this.runc, err, 'OCI runtime start failed');
    }
    if (this.state === 'created') this.state = 'running';
  }

  async kill(signal: number, all: boolean): Promise<void> {
    if (this.state === 'deleted') throw notFound('cannot kill a deleted process');
    if (this.state === 'stopped' && !all) throw notFound('process already finished');
    try {
      await this.runc.kill(this.id, signal, all);
    } catch (err) {
      throw killError(err);
    }
  }

  /** Kills every process of the container (runc kill --all SIGKILL). */
  async killAll(): Promise<void> {
    try {
      await this.runc.kill(this.id, 9, true);
    } catch (err) {
      throw runtimeError(this.runc, err, 'OCI runtime killall failed');
    }
  }

  async pause(): Promise<void> {
    switch (this.state) {
      case 'created':
        throw new Error('cannot pause task in created state');
      case 'paused':
        throw new Error('cannot pause a paused container');
      case 'stopped':
        throw new Error('cannot pause a stopped container');
      case 'deleted':
        throw new Error('cannot pause a deleted process');
      case 'running':
        break;
    }
    this.pausing = true;
    try {
      await this.runc.pause(this.id);
    } catch (err) {
      throw runtimeError(this.runc, err, 'OCI runtime pause failed');
    } finally {
      this.pausing = false;
    }
    if (this.state === 'running') this.state = 'paused';
  }

  async resume(): Promise<void> {
    switch (this.state) {
      case 'created':
        throw new Error('cannot resume task in created state');
      case 'running':
        throw new Error('cannot resume a running process');
      case 'stopped':
        throw new Error('cannot resume a stopped container');
      case 'deleted':
        throw new Error('cannot resume a deleted process');
      case 'paused':
        break;
    }
    try {
      await this.runc.resume(this.id);
    } catch (err) {
      throw runtimeError(this.runc, err, 'OCI runtime resume failed');
    }
    if (this.state === 'paused') this.state = 'running';
  }

  async update(resourcesJson: string): Promise<void> {
    if (this.state === 'stopped') throw new Error('cannot update a stopped container');
    if (this.state === 'deleted') throw new Error('cannot update a deleted process');
    try {
      await this.runc.update(this.id, resourcesJson);
    } catch (err) {
      throw runtimeError(this.runc, err, 'OCI runtime update failed');
    }
  }

  /** Throws unless an exec may be added now (containerd: only while running). */
  checkExec(): void {
    if (this.state !== 'running') throw new Error(`cannot exec in a ${this.state} state`);
  }

  async checkpoint(imagePath: string, workDir: string, leaveRunning: boolean, flags: string[]): Promise<void> {
    if (this.state === 'created') throw new Error('cannot checkpoint a task in created state');
    if (this.state === 'stopped') throw new Error('cannot checkpoint a stopped container');
    if (this.state === 'deleted') throw new Error('cannot checkpoint a deleted process');
    try {
      await this.runc.checkpoint(this.id, { imagePath, workDir, leaveRunning, flags });
    } catch (err) {
      throw runtimeError(this.runc, err, `checkpoint failed (work dir ${workDir})`);
    }
  }

  /** runc delete, then stdio released; the caller unmounts the rootfs. */
  async delete(): Promise<void> {
    switch (this.state) {
      case 'running':
        throw new Error('cannot delete a running process');
      case 'paused':
        throw new Error('cannot delete a paused process');
      case 'deleted':
        throw notFound('cannot delete a deleted process');
      default:
        break;
    }
    await this.releaseIO();
    try {
      await this.runc.delete(this.id);
    } catch (err) {
      if (!(err instanceof RuncError && /does not exist/.test(err.message + this.runc.lastLogError()))) {
        throw runtimeError(this.runc, err, 'failed to delete task');
      }
    }
    this.state = 'deleted';
  }
}

