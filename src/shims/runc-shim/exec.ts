// An exec process (containerd's pkg/process exec.go and exec_state.go): added by Exec, run by
// Start with `runc exec --detach`, signalled directly by pid, collected by the reaper.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { failedPrecondition, notFound } from '../../util/errdefs.js';
import type { InitProcess } from './init.js';
import type { StdioPaths } from './process-io.js';
import { ShimProcess, runtimeError, type ProcessStatus } from './process.js';

export class ExecProcess extends ShimProcess {
  constructor(
    id: string,
    stdio: StdioPaths,
    private readonly parent: InitProcess,
    /** The runtime-spec Process (JSON object); `terminal` is set from the request. */
    private readonly spec: Record<string, unknown>,
  ) {
    super(id, stdio);
  }

  private get pidFile(): string {
    return join(this.parent.config.bundle, `${this.id}.pid`);
  }

  status(): ProcessStatus {
    const parent = this.parent.status();
    if (parent === 'paused' || parent === 'pausing') return parent;
    return this.state === 'deleted' || this.state === 'paused' ? 'stopped' : this.state;
  }

  async start(): Promise<void> {
    if (this.state === 'running') throw new Error('cannot start a running process');
    if (this.state === 'stopped') throw new Error('cannot start a stopped process');
    if (this.state === 'deleted') throw new Error('cannot start a deleted process');
    const { runc, config } = this.parent;
    const owner = { uid: config.ioUid, gid: config.ioGid, namespace: config.namespace, containerId: config.id };
    await this.launch(owner, this.pidFile, (stdio, consoleSocket) =>
      runc.exec(config.id, { ...this.spec, terminal: this.stdio.terminal }, { pidFile: this.pidFile, consoleSocket, specDir: config.bundle, stdio }).catch((err: unknown) => {
        this.abandonWait();
        throw runtimeError(runc, err, 'OCI runtime exec failed');
      }),
    );
    if (this.state === 'created') this.state = 'running';
  }

  kill(signal: number): void {
    if (this.state === 'deleted') throw notFound('cannot kill a deleted process');
    if (this.pid === 0) throw failedPrecondition('process not created');
    if (this.hasExited) throw notFound('process already finished');
    try {
      process.kill(this.pid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') throw notFound('process already finished');
      throw new Error(`exec kill error: ${(err as Error).message}`);
    }
  }

  async delete(): Promise<void> {
    if (this.state === 'running') throw new Error('cannot delete a running process');
    if (this.state === 'deleted') throw notFound('cannot delete a deleted process');
    await this.releaseIO();
    await rm(this.pidFile, { force: true });
    this.state = 'deleted';
  }
}
