import type { EventRecord, TaskEvents, TaskStdio } from '../events/index.js';
import type { Projection } from './projection.js';
import { noteVersion, versionKey, type StreamVersions } from './stream-versions.js';

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
  /** Versions of live tasks' streams (a deleted task's is the log's: see streamVersionAfterDeletion). */
  readonly versions: StreamVersions;
}

export const tasksProjection: Projection<TasksState> = {
  name: 'tasks',
  version: 4,
  initial: () => ({ live: {}, versions: {} }),
  evolve(state, record) {
    // a namespace's emptied map stays until the namespace goes (see containers.ts)
    if (record.type === 'NamespaceDeleted') delete state.live[record.namespace];
    if (!isTaskEvent(record)) return state;
    const ns = record.namespace;
    if (record.type === 'TaskDeleted') delete state.versions[versionKey(ns, record.stream)];
    else noteVersion(state.versions, record);
    const { containerId } = record.payload;
    if (record.type === 'TaskCreated') {
      const p = record.payload;
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
        // an exit recorded first (a process that ended at once) stays the last word
        if (task.init.status === 'created') Object.assign(task.init, { pid: record.payload.pid, status: 'running' });
        break;
      case 'TaskExecAdded':
        task.execs[record.payload.execId] = { id: record.payload.execId, pid: 0, status: 'created', exitStatus: 0, exitedAt: 0n };
        break;
      case 'TaskExecStarted': {
        const exec = task.execs[record.payload.execId];
        if (exec?.status === 'created') Object.assign(exec, { pid: record.payload.pid, status: 'running' });
        break;
      }
      case 'TaskExited': {
        const { id, exitStatus, exitedAt } = record.payload;
        const process = id === containerId || id === '' ? task.init : task.execs[id];
        // small integers decode as numbers (0n for "never" comes back as 0)
        if (process) Object.assign(process, { status: 'stopped', exitStatus, exitedAt: BigInt(exitedAt) });
        break;
      }
      case 'TaskExecDeleted':
        delete task.execs[record.payload.execId];
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

type TaskEventType = keyof TaskEvents;
const TASK_EVENTS: ReadonlySet<string> = new Set<TaskEventType>([
  'TaskCreated', 'TaskStarted', 'TaskExited', 'TaskDeleted', 'TaskExecAdded', 'TaskExecStarted', 'TaskExecDeleted', 'TaskPaused', 'TaskResumed', 'TaskOOM',
]);
const isTaskEvent = (record: EventRecord): record is Extract<EventRecord, { type: TaskEventType }> => TASK_EVENTS.has(record.type);

export function taskOf(state: TasksState, namespace: string, containerId: string): TaskRecord | undefined {
  return state.live[namespace]?.[containerId];
}

export function tasksIn(state: TasksState, namespace: string): TaskRecord[] {
  return Object.values(state.live[namespace] ?? {}).sort((a, b) => (a.containerId < b.containerId ? -1 : 1));
}
