// A CRI runtime's `options` table (containerd.runtimes.<name>.options) as the task options its
// shim gets: for the runc shims, containerd.runc.v1.Options (SystemdCgroup, BinaryName, Root, ...)
// on the containerd container's runtime, so every task of the pod runs with them. And the
// cgroups path containerd's CRI gives a pod's and a container's cgroup (getCgroupsPath).
import { basename } from 'node:path';
import { encode } from '../shims/wire/protocol/protowire.js';
import { RuncOptions } from '../shims/wire/protocol/task.js';

const RUNC_OPTIONS_TYPE_URL = 'containerd.runc.v1.Options';
const RUNC_RUNTIMES = new Set(['io.containerd.runc.v1', 'io.containerd.runc.v2', 'io.containerd.ledger.v1']);

/** The TOML keys of runc's options (Go field names) and their proto fields. */
const RUNC_OPTION_FIELDS: Record<string, string> = {
  NoPivotRoot: 'no_pivot_root',
  NoNewKeyring: 'no_new_keyring',
  ShimCgroup: 'shim_cgroup',
  IoUid: 'io_uid',
  IoGid: 'io_gid',
  BinaryName: 'binary_name',
  Root: 'root',
  CriuPath: 'criu_path',
  SystemdCgroup: 'systemd_cgroup',
  CriuImagePath: 'criu_image_path',
  CriuWorkPath: 'criu_work_path',
};

/** The runtime's options as a task-options Any; undefined for none, or for a runtime that is no runc shim. */
export function runtimeOptions(runtimeType: string, options: Record<string, unknown> | undefined): { type_url: string; value: Buffer } | undefined {
  if (!options || Object.keys(options).length === 0 || !RUNC_RUNTIMES.has(runtimeType)) return undefined;
  const message: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    const field = RUNC_OPTION_FIELDS[key];
    if (!field) throw new Error(`containerd.runtimes options: "${key}" is not an option of ${runtimeType} (one of ${Object.keys(RUNC_OPTION_FIELDS).join(', ')})`);
    message[field] = value;
  }
  return { type_url: RUNC_OPTIONS_TYPE_URL, value: encode(RuncOptions, message) };
}

/**
 * The cgroups path of a pod's or container's cgroup under `parent`: systemd's "slice:prefix:name"
 * when the parent is a systemd slice (…/kubepods.slice), else a directory path.
 */
export function cgroupsPath(parent: string, id: string): string {
  const base = basename(parent);
  return base.endsWith('.slice') ? `${base}:cri-containerd:${id}` : `${parent.replace(/\/$/, '')}/${id}`;
}
