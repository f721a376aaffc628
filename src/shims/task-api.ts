/**
 * The shim v2 task API as ttrpc carries it (runtime/v2/task/shim.proto): the service name and,
 * per method, its request and response messages. One table for both sides: the daemon's client
 * calls through it, a shim registers its handlers with it.
 */
export const TASK_SERVICE = 'containerd.task.v2.Task';

const EMPTY = 'google.protobuf.Empty';
const pkg = (name: string) => `containerd.task.v2.${name}`;

export const TASK_METHODS = {
  State: { request: pkg('StateRequest'), response: pkg('StateResponse') },
  Create: { request: pkg('CreateTaskRequest'), response: pkg('CreateTaskResponse') },
  Start: { request: pkg('StartRequest'), response: pkg('StartResponse') },
  Delete: { request: pkg('DeleteRequest'), response: pkg('DeleteResponse') },
  Pids: { request: pkg('PidsRequest'), response: pkg('PidsResponse') },
  Pause: { request: pkg('PauseRequest'), response: EMPTY },
  Resume: { request: pkg('ResumeRequest'), response: EMPTY },
  Checkpoint: { request: pkg('CheckpointTaskRequest'), response: EMPTY },
  Kill: { request: pkg('KillRequest'), response: EMPTY },
  Exec: { request: pkg('ExecProcessRequest'), response: EMPTY },
  ResizePty: { request: pkg('ResizePtyRequest'), response: EMPTY },
  CloseIO: { request: pkg('CloseIORequest'), response: EMPTY },
  Update: { request: pkg('UpdateTaskRequest'), response: EMPTY },
  Wait: { request: pkg('WaitRequest'), response: pkg('WaitResponse') },
  Stats: { request: pkg('StatsRequest'), response: pkg('StatsResponse') },
  Connect: { request: pkg('ConnectRequest'), response: pkg('ConnectResponse') },
  Shutdown: { request: pkg('ShutdownRequest'), response: EMPTY },
} as const;

export type TaskMethod = keyof typeof TASK_METHODS;

/** The daemon's ttrpc events service, where shims forward their events (TTRPC_ADDRESS). */
export const EVENTS_SERVICE = 'containerd.services.events.ttrpc.v1.Events';
export const FORWARD = { request: 'containerd.services.events.ttrpc.v1.ForwardRequest', response: EMPTY } as const;

/** The Any type URL of a runtime-spec Process (an exec's spec). */
export const PROCESS_SPEC_TYPE_URL = 'types.containerd.io/opencontainers/runtime-spec/1/Process';
