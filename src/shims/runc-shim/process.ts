// What the init and exec processes share: identity, stdio, exit status and Wait.
import { Console, ConsoleSocket } from './console.js';
import { log } from './log.js';
import { undeliveredBytes, untilDelivered, type DeliveryLimits, type OutputCopy } from './output-copy.js';
import { ProcessIO, type IoOwner, type StdioPaths } from './process-io.js';
import type { Exit } from './reaper.js';
import { readPidFile, type ChildStdio, type Runc } from './runc.js';

export type ProcessState = 'created' | 'running' | 'paused' | 'stopped' | 'deleted';
/** What State reports (containerd's process Status strings). */
export type ProcessStatus = 'created' | 'running' | 'paused' | 'pausing' | 'stopped';

const IO_DRAIN_MS = 2000;
/** How long an exit waits for its output to reach the client (see setExited). */
const OUTPUT_DELIVERY: DeliveryLimits = { stallMs: 2000, maxMs: 10_000 };

export abstract class ShimProcess {
  pid = 0;
  state: ProcessState = 'created';
  exitStatus = 0;
  /** Nanoseconds since the epoch; 0n until the process exits. */
  exitedAt = 0n;
  protected io: ProcessIO | undefined;
  protected console: Console | undefined;
  private readonly exitedPromise: Promise<void>;
  /** Settles once the exit has been reported (setExited); deleting the process waits for it. */
  protected exitReported: Promise<void> = Promise.resolve();
  private resolveExited!: () => void;

  constructor(
    readonly id: string,
    readonly stdio: StdioPaths,
  ) {
    this.exitedPromise = new Promise((resolve) => (this.resolveExited = resolve));
  }

  abstract status(): ProcessStatus;

  /**
   * Records the exit (the reaper saw it); later exits of a reused pid are not ours. The exit is
   * reported (`report` runs, then Wait answers) once the process's output is in the client's
   * hands (output-copy.ts), or the client stopped reading, or after OUTPUT_DELIVERY.maxMs.
   */
  setExited(exit: Exit, report: () => void): void {
    if (this.state === 'stopped' || this.state === 'deleted') return;
    this.state = 'stopped';
    this.exitStatus = exit.status;
    this.exitedAt = exit.exitedAt;
    const reported = () => {
      report();
      this.resolveExited();
    };
    // all output delivered already (the usual case): reported now, in the reaper's turn, not after
    // the rest of the SIGCHLD handling (its look for orphans reads /proc)
    if (undeliveredBytes(this.outputs) === 0) {
      this.exitReported = Promise.resolve();
      reported();
      return;
    }
    this.exitReported = untilDelivered(this.outputs, OUTPUT_DELIVERY)
      .catch((err: Error) => log.warn(`process ${this.id}: waiting for its output to be read: ${err.message}`))
      .then(reported);
  }

  /** The copies of the process's output. */
  private get outputs(): OutputCopy[] {
    return [...(this.io?.outputs ?? []), ...(this.console?.outputs ?? [])];
  }

  /** Ends Wait without an exit (a start that failed: nothing will ever exit). */
  protected abandonWait(): void {
    this.resolveExited();
  }

  /** Resolves when the process has exited (at once if it has). */
  wait(): Promise<void> {
    return this.exitedPromise;
  }

  get hasExited(): boolean {
    return this.exitedAt !== 0n || this.state === 'stopped';
  }

  closeStdin(): void {
    this.io?.closeStdin();
    this.console?.closeStdin();
  }

  resize(width: number, height: number): void {
    this.console?.resize(width, height);
  }

  /**
   * Runs `runc create` or `runc exec` (`run`) with this process's stdio: pipes and copies, or a
   * console socket and the pty master it receives; then reads the pid runc wrote. On failure,
   * everything opened is closed again.
   */
  protected async launch(
    owner: IoOwner,
    pidFile: string,
    run: (stdio: [ChildStdio, ChildStdio, ChildStdio], consoleSocket: string | undefined) => Promise<unknown>,
  ): Promise<void> {
    let socket: ConsoleSocket | undefined;
    try {
      if (this.stdio.terminal) socket = await ConsoleSocket.listen();
      else this.io = await ProcessIO.create(this.stdio, owner);
      try {
        await run(this.io?.childStdio ?? ['ignore', 'ignore', 'ignore'], socket?.path);
      } finally {
        this.io?.afterStart();
      }
      if (socket) this.console = new Console(await socket.receiveMaster(), this.stdio);
      this.pid = readPidFile(pidFile);
    } catch (err) {
      this.io?.close();
      this.console?.close();
      throw err;
    } finally {
      socket?.close();
    }
  }

  /**
   * After the exit was reported: lets the output copies finish (at most 2 s, as containerd), then
   * closes every stdio handle.
   */
  protected async releaseIO(): Promise<void> {
    await this.exitReported;
    const copied = this.io?.copied ?? this.console?.copied;
    if (copied) await Promise.race([copied, new Promise((resolve) => setTimeout(resolve, IO_DRAIN_MS).unref())]);
    this.io?.close();
    this.console?.close();
  }
}

/** containerd's runtimeError: the action, then runc's last logged error (or what runc printed). */
export function runtimeError(runc: Runc, err: unknown, action: string): Error {
  const logged = runc.lastLogError();
  return new Error(`${action}: ${logged || (err as Error).message}`);
}
