// containerd.task.v2.Task (runtime/v2/task/shim.proto): the shim v2 API served over ttrpc.
import { Any, Empty, Timestamp, message, type AnyValue, type TimestampValue } from './protowire.js';

export const TASK_SERVICE = 'containerd.task.v2.Task';

export const Mount = message('containerd.types.Mount', [1, 'type', 'string'], [2, 'source', 'string'], [3, 'target', 'string'], [4, 'options', 'string', 'repeated']);

/** containerd.v1.types.Status */
export const Status = { UNKNOWN: 0, CREATED: 1, RUNNING: 2, STOPPED: 3, PAUSED: 4, PAUSING: 5 } as const;

export const ProcessInfo = message('containerd.v1.types.ProcessInfo', [1, 'pid', 'uint32'], [2, 'info', Any]);

export const CreateTaskRequest = message(
  'containerd.task.v2.CreateTaskRequest',
  [1, 'id', 'string'],
  [2, 'bundle', 'string'],
  [3, 'rootfs', Mount, 'repeated'],
  [4, 'terminal', 'bool'],
  [5, 'stdin', 'string'],
  [6, 'stdout', 'string'],
  [7, 'stderr', 'string'],
  [8, 'checkpoint', 'string'],
  [9, 'parent_checkpoint', 'string'],
  [10, 'options', Any],
);
export const CreateTaskResponse = message('containerd.task.v2.CreateTaskResponse', [1, 'pid', 'uint32']);
/** The messages that carry only `id` and `exec_id`: Start, Delete, State, Wait. */
export const ProcessRequest = message('containerd.task.v2.ProcessRequest', [1, 'id', 'string'], [2, 'exec_id', 'string']);
export const StartResponse = message('containerd.task.v2.StartResponse', [1, 'pid', 'uint32']);
export const DeleteResponse = message('containerd.task.v2.DeleteResponse', [1, 'pid', 'uint32'], [2, 'exit_status', 'uint32'], [3, 'exited_at', Timestamp]);
export const ExecProcessRequest = message(
  'containerd.task.v2.ExecProcessRequest',
  [1, 'id', 'string'],
  [2, 'exec_id', 'string'],
  [3, 'terminal', 'bool'],
  [4, 'stdin', 'string'],
  [5, 'stdout', 'string'],
  [6, 'stderr', 'string'],
  [7, 'spec', Any],
);
export const ResizePtyRequest = message('containerd.task.v2.ResizePtyRequest', [1, 'id', 'string'], [2, 'exec_id', 'string'], [3, 'width', 'uint32'], [4, 'height', 'uint32']);
export const StateResponse = message(
  'containerd.task.v2.StateResponse',
  [1, 'id', 'string'],
  [2, 'bundle', 'string'],
  [3, 'pid', 'uint32'],
  [4, 'status', 'enum'],
  [5, 'stdin', 'string'],
  [6, 'stdout', 'string'],
  [7, 'stderr', 'string'],
  [8, 'terminal', 'bool'],
  [9, 'exit_status', 'uint32'],
  [10, 'exited_at', Timestamp],
  [11, 'exec_id', 'string'],
);
export const KillRequest = message('containerd.task.v2.KillRequest', [1, 'id', 'string'], [2, 'exec_id', 'string'], [3, 'signal', 'uint32'], [4, 'all', 'bool']);
export const CloseIORequest = message('containerd.task.v2.CloseIORequest', [1, 'id', 'string'], [2, 'exec_id', 'string'], [3, 'stdin', 'bool']);
/** The messages that carry only `id`: Pids, Pause, Resume, Stats, Connect. */
export const IdRequest = message('containerd.task.v2.IdRequest', [1, 'id', 'string']);
export const PidsResponse = message('containerd.task.v2.PidsResponse', [1, 'processes', ProcessInfo, 'repeated']);
export const CheckpointTaskRequest = message('containerd.task.v2.CheckpointTaskRequest', [1, 'id', 'string'], [2, 'path', 'string'], [3, 'options', Any]);
export const UpdateTaskRequest = message('containerd.task.v2.UpdateTaskRequest', [1, 'id', 'string'], [2, 'resources', Any], [3, 'annotations', 'string', 'map']);
export const WaitResponse = message('containerd.task.v2.WaitResponse', [1, 'exit_status', 'uint32'], [2, 'exited_at', Timestamp]);
export const StatsResponse = message('containerd.task.v2.StatsResponse', [1, 'stats', Any]);
export const ConnectResponse = message('containerd.task.v2.ConnectResponse', [1, 'shim_pid', 'uint32'], [2, 'task_pid', 'uint32'], [3, 'version', 'string']);
export const ShutdownRequest = message('containerd.task.v2.ShutdownRequest', [1, 'id', 'string'], [2, 'now', 'bool']);

// runc shim options (runtime/v2/runc/options/oci.proto)
export const RuncOptions = message(
  'containerd.runc.v1.Options',
  [1, 'no_pivot_root', 'bool'],
  [2, 'no_new_keyring', 'bool'],
  [3, 'shim_cgroup', 'string'],
  [4, 'io_uid', 'uint32'],
  [5, 'io_gid', 'uint32'],
  [6, 'binary_name', 'string'],
  [7, 'root', 'string'],
  [8, 'criu_path', 'string'],
  [9, 'systemd_cgroup', 'bool'],
  [10, 'criu_image_path', 'string'],
  [11, 'criu_work_path', 'string'],
);
// the legacy runtime's options (runtime/linux/runctypes/runc.proto): io.containerd.runtime.v1.linux
export const LegacyRuncOptions = message(
  'containerd.linux.runc.RuncOptions',
  [1, 'runtime', 'string'],
  [2, 'runtime_root', 'string'],
  [3, 'criu_path', 'string'],
  [4, 'systemd_cgroup', 'bool'],
);
export const LegacyCreateOptions = message(
  'containerd.linux.runc.CreateOptions',
  [1, 'no_pivot_root', 'bool'],
  [2, 'open_tcp', 'bool'],
  [3, 'external_unix_sockets', 'bool'],
  [4, 'terminal', 'bool'],
  [5, 'file_locks', 'bool'],
  [6, 'empty_namespaces', 'string', 'repeated'],
  [7, 'cgroups_mode', 'string'],
  [8, 'no_new_keyring', 'bool'],
  [9, 'shim_cgroup', 'string'],
  [10, 'io_uid', 'uint32'],
  [11, 'io_gid', 'uint32'],
  [12, 'criu_work_path', 'string'],
  [13, 'criu_image_path', 'string'],
);
export const CheckpointOptions = message(
  'containerd.runc.v1.CheckpointOptions',
  [1, 'exit', 'bool'],
  [2, 'open_tcp', 'bool'],
  [3, 'external_unix_sockets', 'bool'],
  [4, 'terminal', 'bool'],
  [5, 'file_locks', 'bool'],
  [6, 'empty_namespaces', 'string', 'repeated'],
  [7, 'cgroups_mode', 'string'],
  [8, 'image_path', 'string'],
  [9, 'work_path', 'string'],
);
export const ProcessDetails = message('containerd.runc.v1.ProcessDetails', [1, 'exec_id', 'string']);

export interface MountValue {
  type: string;
  source: string;
  target: string;
  options: string[];
}

export interface CreateTaskRequestValue {
  id: string;
  bundle: string;
  rootfs: MountValue[];
  terminal: boolean;
  stdin: string;
  stdout: string;
  stderr: string;
  checkpoint: string;
  parent_checkpoint: string;
  options: AnyValue | undefined;
}

export interface ExecProcessRequestValue {
  id: string;
  exec_id: string;
  terminal: boolean;
  stdin: string;
  stdout: string;
  stderr: string;
  spec: AnyValue | undefined;
}

export interface RuncOptionsValue {
  no_pivot_root: boolean;
  no_new_keyring: boolean;
  shim_cgroup: string;
  io_uid: number;
  io_gid: number;
  binary_name: string;
  root: string;
  criu_path: string;
  systemd_cgroup: boolean;
  criu_image_path: string;
  criu_work_path: string;
}

export interface ExitValue {
  exit_status: number;
  exited_at: TimestampValue | undefined;
}

/** Each method of the task service with its request and response messages (what a client calls with). */
export const TASK_METHODS = {
  State: { request: ProcessRequest, response: StateResponse },
  Create: { request: CreateTaskRequest, response: CreateTaskResponse },
  Start: { request: ProcessRequest, response: StartResponse },
  Delete: { request: ProcessRequest, response: DeleteResponse },
  Pids: { request: IdRequest, response: PidsResponse },
  Pause: { request: IdRequest, response: Empty },
  Resume: { request: IdRequest, response: Empty },
  Checkpoint: { request: CheckpointTaskRequest, response: Empty },
  Kill: { request: KillRequest, response: Empty },
  Exec: { request: ExecProcessRequest, response: Empty },
  ResizePty: { request: ResizePtyRequest, response: Empty },
  CloseIO: { request: CloseIORequest, response: Empty },
  Update: { request: UpdateTaskRequest, response: Empty },
  Wait: { request: ProcessRequest, response: WaitResponse },
  Stats: { request: IdRequest, response: StatsResponse },
  Connect: { request: IdRequest, response: ConnectResponse },
  Shutdown: { request: ShutdownRequest, response: Empty },
} as const;

export type TaskMethod = keyof typeof TASK_METHODS;
