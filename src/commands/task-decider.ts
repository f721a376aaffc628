import { newEvent, taskStream, type TaskCreated, type TypedEvent } from '../events/index.js';
import type { ProcessRecord, TaskRecord } from '../projections/index.js';
import { alreadyExists } from '../util/errdefs.js';

/**
 * What the task decider is asked to record. The task commands ask it once a shim has answered
 * (created, started, exec added, paused, resumed, deleted); a shim's reports (containerd's
 * /tasks/* events) ask it too, and are the only source of exits and OOMs; the runtime asks it
 * when a shim died. The same fact may be asked twice (the Start answer and the shim's
 * /tasks/start): the decision is taken against the task as the log has it, so it is recorded
 * once, by whichever comes first, and the append expects the stream version the decision saw.
 */
export type TaskCommand =
  | { readonly type: 'RecordCreated'; readonly created: TaskCreated }
  | { readonly type: 'RecordStarted'; readonly execId?: string; readonly pid: number }
  | { readonly type: 'RecordExecAdded'; readonly execId: string }
  | { readonly type: 'RecordExited'; readonly id: string; readonly pid: number; readonly exitStatus: number; readonly exitedAt: bigint; readonly reason?: string }
  | { readonly type: 'RecordPaused' | 'RecordResumed' | 'RecordOOM' }
  /** The task is gone (Delete answered, /tasks/delete, a dead shim): `pid` is its init's, 0 for any. */
  | { readonly type: 'RecordDeleted'; readonly pid: number; readonly exitStatus: number; readonly exitedAt: bigint; readonly reason?: string }
  | { readonly type: 'RecordExecDeleted'; readonly execId: string; readonly pid: number; readonly exitStatus: number; readonly exitedAt: bigint };

export interface TaskAddress {
  readonly namespace: string;
  readonly containerId: string;
}

/**
 * decide(command, task) -> events, with the tasks read model's reducer as evolve (projections/
 * tasks.ts). `task` is what the log says of the container's task (undefined: none). Only a
 * second create of a live task is refused; anything else the log already holds, or that is
 * about a task the log has closed (a late report), decides nothing.
 */
export function decideTask(command: TaskCommand, task: TaskRecord | undefined, at: TaskAddress, meta: Readonly<Record<string, unknown>>): TypedEvent[] {
  const { namespace, containerId } = at;
  const stream = taskStream(containerId);
  if (command.type === 'RecordCreated') {
    if (!task) return [newEvent('TaskCreated', namespace, stream, command.created, meta)];
    if (task.init.pid === command.created.pid) return [];
    throw alreadyExists(`task ${containerId}`);
  }
  if (!task) return [];
  switch (command.type) {
    case 'RecordStarted': {
      if (!command.execId) return task.init.status === 'created' ? [newEvent('TaskStarted', namespace, stream, { containerId, pid: command.pid }, meta)] : [];
      const exec = task.execs[command.execId];
      return exec?.status === 'created' ? [newEvent('TaskExecStarted', namespace, stream, { containerId, execId: command.execId, pid: command.pid }, meta)] : [];
    }
    case 'RecordExecAdded':
      return task.execs[command.execId] ? [] : [newEvent('TaskExecAdded', namespace, stream, { containerId, execId: command.execId }, meta)];
    case 'RecordExited': {
      const process = processOf(task, command.id);
      // a report about an earlier task of this id (another init pid) is not this task's
      if (!process || process.status === 'stopped' || (process.pid !== 0 && command.pid !== 0 && process.pid !== command.pid)) return [];
      const { id, pid, exitStatus, exitedAt, reason } = command;
      return [newEvent('TaskExited', namespace, stream, { containerId, id, pid, exitStatus, exitedAt, ...(reason ? { reason } : {}) }, meta)];
    }
    case 'RecordPaused':
      return task.init.status === 'running' ? [newEvent('TaskPaused', namespace, stream, { containerId }, meta)] : [];
    case 'RecordResumed':
      return task.init.status === 'paused' ? [newEvent('TaskResumed', namespace, stream, { containerId }, meta)] : [];
    case 'RecordOOM':
      return [newEvent('TaskOOM', namespace, stream, { containerId }, meta)];
    case 'RecordDeleted': {
      if (command.pid !== 0 && task.init.pid !== command.pid) return [];
      const { pid, exitStatus, exitedAt, reason } = command;
      const exit = { pid, exitStatus, exitedAt, ...(reason ? { reason } : {}) };
      // the exit comes first in the log, even when the shim's report of it has not arrived yet
      const exited = task.init.status === 'stopped' ? [] : [newEvent('TaskExited', namespace, stream, { containerId, id: containerId, ...exit }, meta)];
      return [...exited, newEvent('TaskDeleted', namespace, stream, { containerId, ...exit }, meta)];
    }
    case 'RecordExecDeleted': {
      const exec = task.execs[command.execId];
      if (!exec) return [];
      const { execId, pid, exitStatus, exitedAt } = command;
      const exited = exec.status === 'stopped' ? [] : [newEvent('TaskExited', namespace, stream, { containerId, id: execId, pid, exitStatus, exitedAt }, meta)];
      return [...exited, newEvent('TaskExecDeleted', namespace, stream, { containerId, execId, pid, exitStatus, exitedAt }, meta)];
    }
  }
}

function processOf(task: TaskRecord, id: string): ProcessRecord | undefined {
  return id === task.containerId || id === '' ? task.init : task.execs[id];
}
