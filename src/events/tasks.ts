/**
 * Task aggregate: stream "tasks/<container id>" in its namespace. The shim running the task
 * reports each step (containerd's /tasks/* events); the daemon records them here, so the log
 * knows every exit with its status even when no client was waiting.
 */
export const taskStream = (containerId: string) => `tasks/${containerId}`;

export interface TaskMount {
  readonly type: string;
  readonly source: string;
  readonly target: string;
  readonly options: readonly string[];
}

export interface TaskStdio {
  readonly stdin: string;
  readonly stdout: string;
  readonly stderr: string;
  readonly terminal: boolean;
}

export interface TaskCreated {
  readonly containerId: string;
  readonly bundle: string;
  readonly rootfs: readonly TaskMount[];
  readonly io: TaskStdio;
  readonly checkpoint: string;
  readonly pid: number;
  /** The runtime (shim) that runs it, e.g. io.containerd.runc.v2. */
  readonly runtime: string;
}

export interface TaskStarted {
  readonly containerId: string;
  readonly pid: number;
}

/**
 * A process ended: `id` is the container id for the init process, the exec id otherwise.
 * Nanosecond times decode as numbers when small (0 for "never"): read them with BigInt().
 */
export interface TaskExited {
  readonly containerId: string;
  readonly id: string;
  readonly pid: number;
  readonly exitStatus: number;
  /** Nanoseconds since the epoch. */
  readonly exitedAt: bigint;
  /** Why, when the daemon (not the shim) reports it: e.g. "shim died", "exited while the daemon was down". */
  readonly reason?: string;
}

export interface TaskDeleted {
  readonly containerId: string;
  readonly pid: number;
  readonly exitStatus: number;
  readonly exitedAt: bigint;
  readonly reason?: string;
}

export interface TaskExecAdded {
  readonly containerId: string;
  readonly execId: string;
}

export interface TaskExecStarted {
  readonly containerId: string;
  readonly execId: string;
  readonly pid: number;
}

/** An exec process was deleted (DeleteProcess); containerd publishes nothing for it. */
export interface TaskExecDeleted {
  readonly containerId: string;
  readonly execId: string;
  readonly pid: number;
  readonly exitStatus: number;
  readonly exitedAt: bigint;
}

export interface TaskStateChanged {
  readonly containerId: string;
}

export interface TaskEvents {
  TaskCreated: TaskCreated;
  TaskStarted: TaskStarted;
  TaskExited: TaskExited;
  TaskDeleted: TaskDeleted;
  TaskExecAdded: TaskExecAdded;
  TaskExecStarted: TaskExecStarted;
  TaskExecDeleted: TaskExecDeleted;
  TaskPaused: TaskStateChanged;
  TaskResumed: TaskStateChanged;
  TaskOOM: TaskStateChanged;
}
