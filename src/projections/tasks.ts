import type { LogRecord } from '../log/index.js';
import type { TaskCreated, TaskExecAdded, TaskExecDeleted, TaskExecStarted, TaskExited, TaskStarted, TaskStdio } from '../events/index.js';
import type { Projection } from './projection.js';

export type RecordedStatus = 'created' | 'running' | 'paused' | 'stopped';

export interface ProcessRecord {
  /** The container id for the init process, the exec id otherwise. */
  readonly id: string;
  pid: number;
  status: RecordedStatus;
  exitStatus: number;
  exitedAt: bigint;
}

/** What the log says about a task: the last word of its shim, or of the daemon for a dead shim. */
export interface TaskRecord {
  readonly containerId: string;
  readonly bundle: string;
  readonly runtime: string;
  readonly io: TaskStdio;
  readonly init: ProcessRecord;
  readonly execs: Record<string, ProcessRecord>;
  oomKills: number;
}

export interface TasksState {
  /** namespace -> container id -> task (until its TaskDeleted) */
  readonly live: Record<string, Record<string, TaskRecord>>;
}

export const tasksProjection: Projection<TasksState> = {
  name: 'tasks',
  version: 3,
  initial: () => ({ live: {} }),
  evolve(state, record: LogRecord) {
    const ns = record.namespace;
    // a namespace's emptied map stays until the namespace goes (see containers.ts)
    if (record.type === 'NamespaceDeleted') delete state.live[ns];
    if (!record.type.startsWith('Task')) return state;
    const { containerId } = record.payload as { containerId: string };
    if (record.type === 'TaskCreated') {
      const p = record.payload as TaskCreated;
      (state.live[ns] ??= {})[containerId] = {
        containerId,
        bundle: p.bundle,
        runtime: p.runtime,
        io: p.io,
        init: { id: containerId, pid: p.pid, status: 'created', exitStatus: 0, exitedAt: 0n },
        execs: {},
        oomKills: 0,
      };
      return state;
    }
    const task = state.live[ns]?.[containerId];
    if (!task) return state;
    switch (record.type) {
      case 'TaskStarted':
        Object.assign(task.init, { pid: (record.payload as TaskStarted).pid, status: 'running' });
        break;
      case 'TaskExecAdded': {
        const { execId } = record.payload as TaskExecAdded;
        task.execs[execId] = { id: execId, pid: 0, status: 'created', exitStatus: 0, exitedAt: 0n };
        break;
      }
      case 'TaskExecStarted': {
        const { execId, pid } = record.payload as TaskExecStarted;
        const exec = task.execs[execId];
        if (exec) Object.assign(exec, { pid, status: 'running' });
        break;
      }
      case 'TaskExited': {
        const { id, exitStatus, exitedAt } = record.payload as TaskExited;
        const process = id === containerId || id === '' ? task.init : task.execs[id];
        // small integers decode as numbers (0n for "never" comes back as 0)
        if (process) Object.assign(process, { status: 'stopped', exitStatus, exitedAt: BigInt(exitedAt) });
        break;
      }
      case 'TaskExecDeleted':
        delete task.execs[(record.payload as TaskExecDeleted).execId];
        break;
      case 'TaskPaused':
        task.init.status = 'paused';
        break;
      case 'TaskResumed':
        task.init.status = 'running';
        break;
      case 'TaskOOM':
        task.oomKills++;
        break;
      case 'TaskDeleted': {
        delete state.live[ns]![containerId];
        break;
      }
    }
    return state;
  },
};

export function taskOf(state: TasksState, namespace: string, containerId: string): TaskRecord | undefined {
  return state.live[namespace]?.[containerId];
}

export function tasksIn(state: TasksState, namespace: string): TaskRecord[] {
  return Object.values(state.live[namespace] ?? {}).sort((a, b) => (a.containerId < b.containerId ? -1 : 1));
}
