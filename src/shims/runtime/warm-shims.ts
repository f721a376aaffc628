// ledgerd's warm shims. Starting ledgerd's own shim the shim v2 way (`start`, which launches the
// server) boots node twice (the `start` process, then the server) before a Create can be
// answered, where containerd's Go shim needs ~20 ms. So for that one binary the
// runtime keeps shim servers booted ahead of need (`containerd-shim-ledger-v1 warm`, children
// of the daemon with an IPC channel, in their own session like any shim) and assigns one to each
// new task instead of running `start`. A node shim costs ~15 MiB of its own where the Go shim
// costs ~2.5, so the pool packs tasks: a new task of a namespace joins a shim already serving
// that namespace while it serves fewer than `tasksPerShim` containers (1: a shim per task, as
// containerd). Containers in a group (io.containerd.runc.v2.group) or with a shim cgroup are
// never packed. A shim whose last container is gone comes back to the pool and serves the next
// task. Anything that goes wrong here only costs speed: the caller runs `start` instead.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, realpathSync } from 'node:fs';
import { adjustOomScore, joinShimCgroup, SERVER_NODE_FLAGS } from '../shared/shim-process.js';
import { WARM_ACTION, type FromWarmShim, type ToWarmShim } from '../shared/warm-messages.js';
import { OWN_SHIM_BINARY } from './binary-path.js';


export interface WarmShimOptions {
  /** Idle shims kept booted (at least; a burst's extra shims stay idle for IDLE_KEEP_MS). */
  readonly size: number;
  /** Containers one shim serves at most (tasks packed into it, see above). */
  readonly tasksPerShim: number;
  /** The environment of shims (TTRPC_ADDRESS …), as `start` would get it. */
  readonly env: NodeJS.ProcessEnv;
  readonly warn: (message: string) => void;
  /**
   * Where the shims' stderr goes (appended): what node itself prints when a shim dies of an
   * uncaught error, a heap limit or an abort, which its log FIFO loses once the daemon is gone.
   */
  readonly stderrFile?: string;
}

export interface WarmAssignment {
  readonly namespace: string;
  readonly id: string;
  /** The daemon's gRPC address (the shim derives its socket name from it). */
  readonly address: string;
  readonly bundle: string;
  readonly debug: boolean;
  /** options.shim_cgroup of the task's runc options. */
  readonly shimCgroup?: string;
  /** The container names a group (GROUP_ANNOTATIONS): it goes to its group's shim. */
  readonly grouped: boolean;
}

type Answer = { readonly address: string; readonly shared: boolean } | { readonly refused: string };

/** A task waits this long for a shim to boot before it runs `start` itself. */
const BOOT_WAIT_MS = 5_000;
const ASSIGN_TIMEOUT_MS = 5_000;
/** A shim that came back is usually wanted again soon: refill the pool only after this. */
const REFILL_DELAY_MS = 500;
/** Idle shims beyond `size` exit after this long unused. */
const IDLE_KEEP_MS = 10_000;
/** After a shim failed to boot, tasks run `start` for this long rather than wait for another. */
const BOOT_FAILURE_BACKOFF_MS = 30_000;

class WarmShim {
  /** False once it was moved into a task's shim cgroup: it must not serve another task there. */
  recyclable = true;
  idleSince = 0;
  /** While assigned: the namespace it serves, and whether more of its tasks may join. */
  serving: { readonly namespace: string; readonly packable: boolean } | undefined;
  /** Containers it serves (and was promised), as it last said. */
  size = 0;
  /** Tasks on their way to join it (WarmShimPool.join). */
  joining = 0;
  private seq = 0;
  private readonly pending = new Map<number, { resolve: (m: FromWarmShim) => void; reject: (e: Error) => void }>();

  constructor(readonly child: ChildProcess) {
    child.once('exit', (code, signal) => {
      for (const { reject } of this.pending.values()) reject(new Error(`exited (${signal ?? code})`));
      this.pending.clear();
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null && this.child.connected;
  }

  /** Routes the answer to an assignment, notes its size; other messages are the pool's. */
  answer(message: FromWarmShim): boolean {
    if (message.type === 'size') {
      this.size = message.size;
      return true;
    }
    if (message.type !== 'assigned' && message.type !== 'refused') return false;
    const waiting = this.pending.get(message.seq);
    this.pending.delete(message.seq);
    waiting?.resolve(message);
    return true;
  }

  /** The shim's answer; a shim that does not answer in time or exits is refusing. `join`: see ToWarmShim. */
  async assign(assignment: WarmAssignment, maxTasks: number, join: boolean): Promise<Answer> {
    const seq = ++this.seq;
    const { namespace, id, address, bundle, debug } = assignment;
    const message: ToWarmShim = { type: 'assign', seq, namespace, id, address, bundle, debug, maxTasks, join };
    try {
      const answer = await new Promise<FromWarmShim>((resolve, reject) => {
        const timer = setTimeout(() => (this.pending.delete(seq), reject(new Error(`did not answer in ${ASSIGN_TIMEOUT_MS} ms`))), ASSIGN_TIMEOUT_MS);
        this.pending.set(seq, { resolve: (m) => (clearTimeout(timer), resolve(m)), reject: (e) => (clearTimeout(timer), reject(e)) });
        this.send(message);
      });
      if (answer.type === 'refused') return { refused: `warm shim ${this.pid}: ${answer.error}` };
      if (answer.type !== 'assigned') return { refused: `warm shim ${this.pid} answered ${answer.type}` };
      return { address: answer.address, shared: answer.shared };
    } catch (err) {
      return { refused: `warm shim ${this.pid}: ${(err as Error).message}` };
    }
  }

  send(message: ToWarmShim): void {
    if (this.child.connected) this.child.send(message);
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

export class WarmShimPool {
  private readonly idle: WarmShim[] = [];
  /** Serving a task: told to carry on alone when the daemon closes. */
  private readonly assigned = new Set<WarmShim>();
  /** Per namespace, the shim being assigned to one of its tasks: the next ones may join it. */
  private readonly claims = new Map<string, Promise<WarmShim | undefined>>();
  private booting = 0;
  private readonly waiters: Array<(shim: WarmShim | undefined) => void> = [];
  private refill: NodeJS.Timeout | undefined;
  private readonly trim: NodeJS.Timeout;
  private lastBootFailure = -Infinity;
  private closed = false;
  /** The descriptor of options.stderrFile, given to each shim as its stderr. */
  private stderr: number | undefined;

  /** Whether `binary` (a resolved shim path) is ledgerd's own shim. */
  static serves(binary: string): boolean {
    try {
      return realpathSync(binary) === realpathSync(OWN_SHIM_BINARY);
    } catch {
      return false;
    }
  }

  constructor(private readonly options: WarmShimOptions) {
    if (options.stderrFile) {
      try {
        this.stderr = openSync(options.stderrFile, 'a', 0o600);
      } catch (err) {
        options.warn(`warm shims' stderr: ${(err as Error).message}`);
      }
    }
    this.trim = setInterval(() => this.trimIdle(), IDLE_KEEP_MS / 2).unref();
    this.fill();
  }

  /**
   * Packs the task into a shim serving its namespace, else assigns it an idle warm shim: the
   * address it (or the group's live shim) serves on, or undefined when no shim could be had in
   * time (the caller runs `start` then).
   */
  start(assignment: WarmAssignment): Promise<string | undefined> {
    const packable = !assignment.grouped && !assignment.shimCgroup && this.options.tasksPerShim > 1;
    if (!packable) return this.assignNew(assignment, false);
    // decided in this turn: tasks that come together see each other's shims
    const candidates = [...this.assigned].filter((shim) => this.hasRoom(shim, assignment.namespace));
    const claim = this.claims.get(assignment.namespace);
    if (candidates.length === 0 && !claim) return this.claim(assignment);
    return this.join(assignment, candidates, claim).then((address) => address ?? this.claim(assignment));
  }

  private hasRoom(shim: WarmShim, namespace: string): boolean {
    return shim.alive && shim.serving?.packable === true && shim.serving.namespace === namespace && shim.size + shim.joining < this.options.tasksPerShim;
  }

  /**
   * The task joins a shim serving its namespace with room for it, the fullest first (so the
   * others empty and return to the pool), or else the shim being assigned to the namespace.
   */
  private async join(assignment: WarmAssignment, candidates: WarmShim[], claim: Promise<WarmShim | undefined> | undefined): Promise<string | undefined> {
    const load = (shim: WarmShim) => shim.size + shim.joining;
    const tryJoin = async (shim: WarmShim): Promise<string | undefined> => {
      if (!this.hasRoom(shim, assignment.namespace)) return undefined;
      // counted now, so that tasks packed at the same moment do not all take its last place
      shim.joining++;
      try {
        const answer = await shim.assign(assignment, this.options.tasksPerShim, true);
        return 'refused' in answer ? undefined : answer.address;
      } finally {
        shim.joining--;
      }
    };
    for (const shim of candidates.sort((a, b) => load(b) - load(a))) {
      const address = await tryJoin(shim);
      if (address) return address;
    }
    const claimed = await claim;
    return claimed && tryJoin(claimed);
  }

  /** A new shim for the task, which the namespace's next tasks may join while it is being assigned. */
  private claim(assignment: WarmAssignment): Promise<string | undefined> {
    let announce!: (shim: WarmShim | undefined) => void;
    const claim = new Promise<WarmShim | undefined>((resolve) => (announce = resolve));
    this.claims.set(assignment.namespace, claim);
    void claim.then(() => this.claims.get(assignment.namespace) === claim && this.claims.delete(assignment.namespace));
    return this.assignNew(assignment, true, announce);
  }

  /** An idle (or newly booted) shim for the task; `announce` hears which shim serves it, if one does. */
  private async assignNew(assignment: WarmAssignment, packable: boolean, announce: (shim: WarmShim | undefined) => void = () => {}): Promise<string | undefined> {
    let serving: WarmShim | undefined;
    try {
      const shim = await this.acquire();
      if (!shim) return undefined;
      const answer = await shim.assign(assignment, this.options.tasksPerShim, false);
      if ('refused' in answer) {
        this.options.warn(`${answer.refused}; starting the shim of ${assignment.namespace}/${assignment.id} with \`start\``);
        shim.kill();
        return undefined;
      }
      if (answer.shared) {
        this.release(shim);
        return answer.address;
      }
      this.assigned.add(shim);
      shim.serving = { namespace: assignment.namespace, packable };
      if (assignment.shimCgroup) {
        shim.recyclable = false;
        try {
          joinShimCgroup(shim.pid, assignment.shimCgroup);
        } catch (err) {
          shim.kill();
          throw err;
        }
      }
      serving = shim;
      return answer.address;
    } finally {
      announce(serving);
    }
  }

  /** Idle shims exit; assigned ones are let go (they keep their containers, as after a crash). */
  close(): void {
    this.closed = true;
    if (this.stderr !== undefined) closeSync(this.stderr);
    this.stderr = undefined;
    clearInterval(this.trim);
    clearTimeout(this.refill);
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
    for (const shim of this.idle.splice(0)) shim.send({ type: 'exit' });
    for (const shim of this.assigned) if (shim.child.connected) shim.child.disconnect();
    this.assigned.clear();
  }

  private get backingOff(): boolean {
    return Date.now() - this.lastBootFailure < BOOT_FAILURE_BACKOFF_MS;
  }

  private acquire(): Promise<WarmShim | undefined> {
    if (this.closed) return Promise.resolve(undefined);
    this.scheduleRefill();
    for (let shim = this.idle.pop(); shim; shim = this.idle.pop()) if (shim.alive) return Promise.resolve(shim);
    if (this.backingOff) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const waiter = (shim: WarmShim | undefined) => (clearTimeout(timer), resolve(shim));
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        resolve(undefined);
      }, BOOT_WAIT_MS);
      this.waiters.push(waiter);
      if (this.booting < this.waiters.length) this.boot();
    });
  }

  /** A shim free for another task: to whoever waits, else idle. */
  private release(shim: WarmShim): void {
    if (!shim.alive) return;
    const waiter = this.waiters.shift();
    if (waiter) {
      // a shim that was booting when the last refill ran (it counted then) is taken: refill again
      this.scheduleRefill();
      return waiter(shim);
    }
    if (this.closed) return shim.send({ type: 'exit' });
    shim.idleSince = Date.now();
    this.idle.push(shim);
  }

  private scheduleRefill(): void {
    this.refill ??= setTimeout(() => {
      this.refill = undefined;
      this.fill();
    }, REFILL_DELAY_MS).unref();
  }

  private fill(): void {
    while (!this.closed && !this.backingOff && this.idle.length + this.booting < this.options.size) this.boot();
  }

  private trimIdle(): void {
    const now = Date.now();
    // the oldest idle shims are at the front
    while (this.idle.length > this.options.size && now - this.idle[0]!.idleSince > IDLE_KEEP_MS) this.idle.shift()!.send({ type: 'exit' });
  }

  private boot(): void {
    this.booting++;
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, [...SERVER_NODE_FLAGS, OWN_SHIM_BINARY, WARM_ACTION], {
        cwd: '/',
        env: this.options.env,
        detached: true,
        stdio: ['ignore', 'ignore', this.stderr ?? 'ignore', 'ipc'],
      });
    } catch (err) {
      this.booting--;
      this.options.warn(`booting a warm shim: ${(err as Error).message}`);
      return;
    }
    const shim = new WarmShim(child);
    let ready = false;
    child.unref();
    child.channel?.unref();
    child.on('error', (err) => this.options.warn(`warm shim: ${err.message}`));
    try {
      if (child.pid) adjustOomScore(child.pid, process.pid);
    } catch (err) {
      this.options.warn(`warm shim ${child.pid}: oom_score_adj: ${(err as Error).message}`);
    }
    child.on('message', (message: FromWarmShim) => {
      if (shim.answer(message)) return;
      if (message.type === 'ready' && !ready) {
        ready = true;
        this.booting--;
        this.release(shim);
      } else if (message.type === 'free') {
        this.assigned.delete(shim);
        shim.serving = undefined;
        if (shim.recyclable) this.release(shim);
        else shim.send({ type: 'exit' });
      }
    });
    child.once('exit', (code, signal) => {
      this.assigned.delete(shim);
      const index = this.idle.indexOf(shim);
      if (index >= 0) this.idle.splice(index, 1);
      if (!ready) {
        this.booting--;
        this.lastBootFailure = Date.now();
        this.options.warn(`a warm shim exited while booting (${signal ?? `exit status ${code}`}); shims start with \`start\` for ${BOOT_FAILURE_BACKOFF_MS / 1000} s`);
        for (const waiter of this.waiters.splice(0)) waiter(undefined);
      }
    });
  }
}
