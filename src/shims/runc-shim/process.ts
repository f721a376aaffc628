// What the init and exec processes share: identity, stdio, exit status and Wait.
import { Console } from './console.js';
import type { ProcessIO, StdioPaths } from './process-io.js';
import type { Exit } from './reaper.js';
import type { Runc } from './runc.js';

export type ProcessState = 'created' | 'running' | 'paused' | 'stopped' | 'deleted';
/** What State reports (containerd's process Status strings). */
export type ProcessStatus = 'created' | 'running' | 'paused' | 'pausing' | 'stopped';

const IO_DRAIN_MS = 2000;

export abstract class ShimProcess {
  pid = 0;
  state: ProcessState = 'created';
  exitStatus = 0;
  /** Nanoseconds since the epoch; 0n until the process exits. */
  exitedAt = 0n;
  protected io: ProcessIO | undefined;
  protected console: Console | undefined;
  private readonly exitedPromise: Promise<void>;
  private resolveExited!: () => void;

  constructor(
    readonly id: string,
    readonly stdio: StdioPaths,
  ) {
    this.exitedPromise = new Promise((resolve) => (this.resolveExited = resolve));
  }

  abstract status(): ProcessStatus;

  /** Records the exit (the reaper saw it); later exits of a reused pid are not ours. */
  setExited(exit: Exit): void {
    if (this.state === 'stopped' || this.state === 'deleted') return;
    this.state = 'stopped';
    this.exitStatus = exit.status;
    this.exitedAt = exit.exitedAt;
    this.resolveExited();
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

  /** Lets the output copies finish (at most 2 s, as containerd), then closes every stdio handle. */
  protected async releaseIO(): Promise<void> {
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
