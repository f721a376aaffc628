// The contract between the tasks commands (src/commands) and the shim runtime (src/shims): what
// containerd's runtime/v2 TaskManager offers the tasks service, in ledgerd's types. The runtime
// speaks shim v2 over ttrpc underneath; callers never see ttrpc or protobuf.
/** A protobuf Any as it travels: the type URL and the encoded message, untouched. */
export interface AnyMessage {
  readonly typeUrl: string;
  readonly value: Uint8Array;
}

export interface RootfsMount {
  readonly type: string;
  readonly source: string;
  readonly target?: string;
  readonly options: readonly string[];
}

export interface Stdio {
  /** Paths (FIFOs, file:// or binary:// URIs) the shim opens; "" is null IO. */
  readonly stdin: string;
  readonly stdout: string;
  readonly stderr: string;
  readonly terminal: boolean;
}

export interface CreateTaskRequest extends Stdio {
  readonly namespace: string;
  readonly id: string;
  /** The container's runtime name, e.g. "io.containerd.runc.v2" (resolved to a shim binary). */
  readonly runtime: string;
  /** Absolute shim binary that overrides the runtime name (TasksCreate.runtime_path). */
  readonly runtimePath?: string;
  /** The container's OCI runtime spec, JSON bytes (written as <bundle>/config.json). */
  readonly spec: Uint8Array;
  readonly rootfs: readonly RootfsMount[];
  /** Task options (or the container's runtime options): stdin of `shim start` and Create.options. */
  readonly options?: AnyMessage;
  /** The container's runtime options (the legacy runtime reads them beside the task's). */
  readonly runtimeOptions?: AnyMessage;
  readonly checkpoint?: string;
}

export type ProcessStatus = 'unknown' | 'created' | 'running' | 'stopped' | 'paused' | 'pausing';

export interface ProcessState extends Stdio {
  /** Container id for the init process, exec id otherwise. */
  readonly id: string;
  readonly pid: number;
  readonly status: ProcessStatus;
  readonly exitStatus: number;
  /** Nanoseconds since the epoch; 0n while running. */
  readonly exitedAt: bigint;
}

export interface ExitResult {
  readonly pid: number;
  readonly exitStatus: number;
  readonly exitedAt: bigint;
}

export interface ExecRequest extends Stdio {
  readonly execId: string;
  /** runtime-spec Process as an Any (types.containerd.io/opencontainers/runtime-spec/1/Process). */
  readonly spec: AnyMessage;
}

export interface ProcessInfo {
  readonly pid: number;
  /** containerd.runc.v1.ProcessDetails{exec_id} for exec processes. */
  readonly info?: AnyMessage;
}

/** One running task (its init and exec processes) behind one shim connection. */
export interface RuntimeTask {
  readonly namespace: string;
  readonly id: string;
  readonly bundle: string;
  readonly runtime: string;
  /** Pid of the init process (valid after create). */
  readonly pid: number;
  start(execId?: string): Promise<{ pid: number }>;
  state(execId?: string): Promise<ProcessState>;
  kill(signal: number, options?: { execId?: string; all?: boolean }): Promise<void>;
  exec(request: ExecRequest): Promise<void>;
  resizePty(width: number, height: number, execId?: string): Promise<void>;
  closeIO(execId?: string): Promise<void>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  pids(): Promise<ProcessInfo[]>;
  update(resources: AnyMessage | undefined, annotations: Record<string, string>): Promise<void>;
  /** Cgroup metrics as the shim encodes them (io.containerd.cgroups.v1/v2.Metrics). */
  stats(): Promise<AnyMessage | undefined>;
  checkpoint(path: string, options?: AnyMessage): Promise<void>;
  /** Resolves when the process exits (call before start to never miss a fast exit). */
  wait(execId?: string): Promise<ExitResult>;
  /**
   * An exec process: deletes it. The init (no execId): deletes the task, shuts the shim down,
   * removes the bundle. `whenDeleted` runs once the process is deleted, alongside what follows;
   * delete resolves after it, and fails with its error.
   */
  delete(execId?: string, whenDeleted?: (result: ExitResult) => Promise<void>): Promise<ExitResult>;
}

/**
 * What a shim reported, decoded from its /tasks/* envelope (containerd.events.Task*). The
 * daemon turns each into an event in its log; `timestamp` is the shim's.
 */
export type ShimEvent =
  | { readonly kind: 'create'; readonly namespace: string; readonly containerId: string; readonly pid: number; readonly bundle: string; readonly stdio: Stdio; readonly rootfs: readonly RootfsMount[]; readonly checkpoint: string }
  | { readonly kind: 'start'; readonly namespace: string; readonly containerId: string; readonly pid: number }
  | { readonly kind: 'exit'; readonly namespace: string; readonly containerId: string; readonly id: string; readonly pid: number; readonly exitStatus: number; readonly exitedAt: bigint }
  | { readonly kind: 'delete'; readonly namespace: string; readonly containerId: string; readonly pid: number; readonly exitStatus: number; readonly exitedAt: bigint }
  | { readonly kind: 'exec-added'; readonly namespace: string; readonly containerId: string; readonly execId: string }
  | { readonly kind: 'exec-started'; readonly namespace: string; readonly containerId: string; readonly execId: string; readonly pid: number }
  | { readonly kind: 'paused' | 'resumed' | 'oom'; readonly namespace: string; readonly containerId: string };

export type TimestampedShimEvent = ShimEvent & { readonly timestamp: bigint };

/** A task whose shim died or could not be reached: what the `delete` action reported (255/now if it failed). */
export interface DeadTask extends ExitResult {
  readonly namespace: string;
  readonly id: string;
  readonly reason: string;
}

export interface TaskRuntime {
  /** Creates the bundle, starts (or reuses) a shim and creates the task in it. */
  create(request: CreateTaskRequest): Promise<RuntimeTask>;
  get(namespace: string, id: string): RuntimeTask | undefined;
  list(namespace: string): RuntimeTask[];
  /**
   * Every event the shims forward, in the order they arrive; returns the unsubscribe. A
   * handler's promise is the shim's answer: a failure makes the shim send the event again.
   */
  onEvent(handler: (event: TimestampedShimEvent) => Promise<void> | void): () => void;
  /** Shims that died unexpectedly (or were found dead at load), after their `delete` cleanup ran. */
  onDeath(handler: (dead: DeadTask) => void): () => void;
  /**
   * After a daemon restart: reconnects every shim found under the state directory, runs the
   * cleanup of the dead ones (reported to onDeath) and returns the live tasks.
   */
  load(containerRuntime: (namespace: string, id: string) => string | undefined): Promise<RuntimeTask[]>;
  /**
   * A task the daemon never acknowledged (found at load, absent from the log): its processes are
   * killed, it is deleted in its shim, the shim is shut down and its bundle (with the rootfs
   * mount) removed, so the id can be used again. No death is reported: for the log it never was.
   */
  discard(task: RuntimeTask): Promise<void>;
  close(): Promise<void>;
}
