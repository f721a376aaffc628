// Exit collection for a child subreaper that shares its children with libuv.
//
// The containers' processes become our children when runc exits (we are their subreaper). libuv
// reaps the children it spawned itself (mount, logging binaries) with waitpid(pid) per pid and
// hangs forever if someone else reaps one of them first. So we never call waitpid(-1): on every
// SIGCHLD we waitpid(WNOHANG) exactly the pids we watch (runc, which we spawn ourselves, and the
// init and exec pids it reported), and reap other orphaned zombies (processes of containers
// without their own pid namespace) only when they are neither watched nor libuv's live children.
import { readdirSync, readFileSync } from 'node:fs';
import { anyExitedChild, exitCode, waitPid, waitPidBlocking } from './syscalls.js';

export interface Exit {
  readonly pid: number;
  /** Exit status, or 128 + signal. */
  readonly status: number;
  /** Nanoseconds since the epoch, when we collected it. */
  readonly exitedAt: bigint;
}

export type ExitHandler = (exit: Exit) => void;

// as src/log/clock.ts: the wall clock to the microsecond (Date.now() truncates to the millisecond)
const clockBase = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6)) - process.hrtime.bigint();

/** Wall-clock nanoseconds since the epoch (millisecond-accurate origin, nanosecond steps). */
export function nowNs(): bigint {
  return clockBase + process.hrtime.bigint();
}

/** The reaper of this process, once one has started. */
let running: Reaper | undefined;

/**
 * The exit status (or 128 + signal) of `pid`, a child we spawned ourselves (not through libuv):
 * collected by this process's reaper on SIGCHLD, or by a blocking waitpid where none runs.
 * Call it in the same turn as the spawn, before the reaper could take the zombie for an orphan.
 */
export function exitOf(pid: number): Promise<number> {
  const reaper = running;
  if (!reaper) return waitPidBlocking(pid).then(exitCode);
  // a signal listener does not keep the event loop alive: this timer does, until the exit comes
  const keepAlive = setInterval(() => {}, 2 ** 30);
  return new Promise((resolve) =>
    reaper.watch(pid, (exit) => {
      clearInterval(keepAlive);
      resolve(exit.status);
    }),
  );
}

export class Reaper {
  private readonly watched = new Map<number, ExitHandler>();
  private started = false;
  private holds = 0;

  /** Starts listening for SIGCHLD (the process must already be a subreaper). */
  start(): void {
    if (this.started) return;
    this.started = true;
    running = this;
    process.on('SIGCHLD', () => this.collect());
  }

  /**
   * Calls `onExit` once when `pid` exits. Checks at once: the process may have exited before
   * we learnt its pid (its SIGCHLD came while it was not watched yet).
   */
  watch(pid: number, onExit: ExitHandler): void {
    this.watched.set(pid, onExit);
    this.check(pid);
  }

  /**
   * While runc create/exec runs, the new process may exit before we have read its pid file:
   * its zombie must wait for watch(), not be taken for an orphan. Returns the release.
   */
  holdOrphans(): () => void {
    this.holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holds--;
      if (this.holds === 0) this.reapOrphans();
    };
  }

  unwatch(pid: number): void {
    this.watched.delete(pid);
  }

  /** Collects every watched pid that has exited, then orphaned zombies nobody else waits for. */
  collect(): void {
    for (const pid of [...this.watched.keys()]) this.check(pid);
    this.reapOrphans();
  }

  private check(pid: number): void {
    const handler = this.watched.get(pid);
    if (!handler) return;
    const status = waitPid(pid);
    if (status === undefined) return;
    this.watched.delete(pid);
    // 'gone': not our child (never reparented to us, or reaped elsewhere): the status is lost
    handler({ pid, status: status === 'gone' ? 255 : exitCode(status), exitedAt: nowNs() });
  }

  private reapOrphans(): void {
    // the common case, every watched exit already collected: no zombie, no /proc walk (~0.3 ms)
    if (this.holds > 0 || !anyExitedChild()) return;
    const libuvChildren = libuvChildPids();
    for (const pid of zombieChildren()) {
      if (this.watched.has(pid) || libuvChildren.has(pid)) continue;
      waitPid(pid);
    }
  }
}

/** Pids of the child processes libuv still waits for (node's ChildProcess handles). */
function libuvChildPids(): Set<number> {
  const pids = new Set<number>();
  const handles = (process as unknown as { _getActiveHandles?: () => unknown[] })._getActiveHandles?.() ?? [];
  for (const handle of handles) {
    const pid = (handle as { pid?: unknown; spawnfile?: unknown }).pid;
    if (typeof pid === 'number' && (handle as { spawnfile?: unknown }).spawnfile !== undefined) pids.add(pid);
  }
  return pids;
}

/** Our children in state Z, from /proc/self/task/<tid>/children (orphans may be given to any thread). */
function zombieChildren(): number[] {
  const zombies: number[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync('/proc/self/task');
  } catch {
    return zombies;
  }
  for (const tid of tasks) {
    let children: string;
    try {
      children = readFileSync(`/proc/self/task/${tid}/children`, 'utf8');
    } catch {
      continue;
    }
    for (const word of children.split(' ')) {
      const pid = Number(word);
      if (!pid) continue;
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') zombies.push(pid);
      } catch {
        // gone already
      }
    }
  }
  return zombies;
}
