// containerd's legacy runtime, io.containerd.runtime.v1.linux (runtime/v1/linux), which real
// clients still name (Docker's libcontainerd, `ctr --runtime io.containerd.runtime.v1.linux`).
// containerd 1.6 runs it on its v1 shim (containerd-shim, another API); ledgerd runs it on the
// runc shim v2, with its options carried over: the container's runtime options
// (containerd.linux.runc.RuncOptions: runc binary, runc root, criu, systemd cgroups), the task's
// (containerd.linux.runc.CreateOptions: no pivot_root, shim cgroup, io uid/gid …) and the
// plugin's settings ([plugins."io.containerd.runtime.v1.linux"] runtime, runtime_root,
// shim_debug), as the runc shim's containerd.runc.v1.Options.
import { decode, encode } from '../wire/protocol/protowire.js';
import { LegacyCreateOptions, LegacyRuncOptions, RuncOptions, type RuncOptionsValue } from '../wire/protocol/task.js';
import type { AnyMessage } from './task-runtime.js';

export const LEGACY_LINUX_RUNTIME = 'io.containerd.runtime.v1.linux';
/** The runtime whose shim legacy tasks run on. */
export const LEGACY_LINUX_SHIM_RUNTIME = 'io.containerd.runc.v2';

/** The plugin's settings (containerd's runtime/v1/linux Config) that ledgerd acts on. */
export interface LegacyLinuxSettings {
  /** The OCI runtime binary when the container's options name none. */
  readonly runtime: string;
  /** Its state root when the container's options name none ("" = the runc shim's default). */
  readonly runtimeRoot: string;
  /** The shim runs with -debug. */
  readonly shimDebug: boolean;
}

interface LegacyRunc {
  runtime: string;
  runtime_root: string;
  criu_path: string;
  systemd_cgroup: boolean;
}

interface LegacyCreate {
  no_pivot_root: boolean;
  no_new_keyring: boolean;
  shim_cgroup: string;
  io_uid: number;
  io_gid: number;
  criu_work_path: string;
  criu_image_path: string;
}

const isType = (any: AnyMessage | undefined, name: string): any is AnyMessage => !!any && (any.typeUrl === name || any.typeUrl.endsWith(`/${name}`));

/**
 * The runc shim's options for a legacy task: each Any given (the task's options, the container's
 * runtime options) is taken for what its type says; settings fill in what they leave empty.
 */
export function legacyLinuxOptions(settings: LegacyLinuxSettings, given: readonly (AnyMessage | undefined)[]): AnyMessage {
  const runc = given.find((any) => isType(any, LegacyRuncOptions.name));
  const create = given.find((any) => isType(any, LegacyCreateOptions.name));
  const r = runc ? decode<LegacyRunc>(LegacyRuncOptions, runc.value) : undefined;
  const c = create ? decode<LegacyCreate>(LegacyCreateOptions, create.value) : undefined;
  const options: RuncOptionsValue = {
    no_pivot_root: c?.no_pivot_root ?? false,
    no_new_keyring: c?.no_new_keyring ?? false,
    shim_cgroup: c?.shim_cgroup ?? '',
    io_uid: c?.io_uid ?? 0,
    io_gid: c?.io_gid ?? 0,
    binary_name: r?.runtime || settings.runtime,
    root: r?.runtime_root || settings.runtimeRoot,
    criu_path: r?.criu_path ?? '',
    systemd_cgroup: r?.systemd_cgroup ?? false,
    criu_image_path: c?.criu_image_path ?? '',
    criu_work_path: c?.criu_work_path ?? '',
  };
  return { typeUrl: RuncOptions.name, value: encode(RuncOptions, options as unknown as Record<string, unknown>) };
}
