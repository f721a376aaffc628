// What a shim publishes: containerd.events.Task* (events/task.proto) in an Envelope, sent with
// containerd.services.events.ttrpc.v1.Events/Forward to the daemon's ttrpc address.
import { Mount } from './task.js';
import { Any, Timestamp, message, type MessageType } from './protowire.js';

export const EVENTS_SERVICE = 'containerd.services.events.ttrpc.v1.Events';

export const Envelope = message(
  'containerd.services.events.ttrpc.v1.Envelope',
  [1, 'timestamp', Timestamp],
  [2, 'namespace', 'string'],
  [3, 'topic', 'string'],
  [4, 'event', Any],
);
export const ForwardRequest = message('containerd.services.events.ttrpc.v1.ForwardRequest', [1, 'envelope', Envelope]);

const TaskIO = message('containerd.events.TaskIO', [1, 'stdin', 'string'], [2, 'stdout', 'string'], [3, 'stderr', 'string'], [4, 'terminal', 'bool']);

export const TaskCreate = message(
  'containerd.events.TaskCreate',
  [1, 'container_id', 'string'],
  [2, 'bundle', 'string'],
  [3, 'rootfs', Mount, 'repeated'],
  [4, 'io', TaskIO],
  [5, 'checkpoint', 'string'],
  [6, 'pid', 'uint32'],
);
export const TaskStart = message('containerd.events.TaskStart', [1, 'container_id', 'string'], [2, 'pid', 'uint32']);
export const TaskDelete = message(
  'containerd.events.TaskDelete',
  [1, 'container_id', 'string'],
  [2, 'pid', 'uint32'],
  [3, 'exit_status', 'uint32'],
  [4, 'exited_at', Timestamp],
  [5, 'id', 'string'],
);
export const TaskExit = message(
  'containerd.events.TaskExit',
  [1, 'container_id', 'string'],
  [2, 'id', 'string'],
  [3, 'pid', 'uint32'],
  [4, 'exit_status', 'uint32'],
  [5, 'exited_at', Timestamp],
);
export const TaskOOM = message('containerd.events.TaskOOM', [1, 'container_id', 'string']);
export const TaskExecAdded = message('containerd.events.TaskExecAdded', [1, 'container_id', 'string'], [2, 'exec_id', 'string']);
export const TaskExecStarted = message('containerd.events.TaskExecStarted', [1, 'container_id', 'string'], [2, 'exec_id', 'string'], [3, 'pid', 'uint32']);
export const TaskPaused = message('containerd.events.TaskPaused', [1, 'container_id', 'string']);
export const TaskResumed = message('containerd.events.TaskResumed', [1, 'container_id', 'string']);

/** Each task event with its topic (runtime/v2/runc/util.go GetTopic). */
export const TASK_TOPICS: ReadonlyArray<readonly [string, MessageType]> = [
  ['/tasks/create', TaskCreate],
  ['/tasks/start', TaskStart],
  ['/tasks/delete', TaskDelete],
  ['/tasks/exit', TaskExit],
  ['/tasks/oom', TaskOOM],
  ['/tasks/exec-added', TaskExecAdded],
  ['/tasks/exec-started', TaskExecStarted],
  ['/tasks/paused', TaskPaused],
  ['/tasks/resumed', TaskResumed],
];

/** The message type of a task topic, e.g. '/tasks/exit' -> containerd.events.TaskExit. */
export function taskEventType(topic: string): MessageType | undefined {
  return TASK_TOPICS.find(([t]) => t === topic)?.[1];
}
