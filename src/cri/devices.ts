// Host devices in a container (ContainerConfig.devices), as containerd's oci.WithDevices adds
// them: the device node (type, major, minor, mode, owner) in linux.devices, and a cgroup rule
// that allows the asked permissions on it. A directory adds every device node under it.
import { readdir, realpath, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { constants } from 'node:fs';
import { invalidArgument } from '../util/errdefs.js';
import type { CriDevice } from './types.js';

export interface LinuxDevice {
  path: string;
  type: 'c' | 'b';
  major: number;
  minor: number;
  fileMode: number;
  uid: number;
  gid: number;
}

export interface DeviceRule {
  allow: boolean;
  type: string;
  major: number;
  minor: number;
  access: string;
}

// glibc's major()/minor() of a dev_t
const major = (dev: bigint) => Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
const minor = (dev: bigint) => Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));

async function deviceAt(hostPath: string, containerPath: string): Promise<LinuxDevice | undefined> {
  const st = await stat(hostPath, { bigint: true });
  const format = Number(st.mode) & constants.S_IFMT;
  const type = format === constants.S_IFCHR ? 'c' : format === constants.S_IFBLK ? 'b' : undefined;
  if (!type) return undefined;
  return { path: containerPath, type, major: major(st.rdev), minor: minor(st.rdev), fileMode: Number(st.mode) & ~constants.S_IFMT, uid: Number(st.uid), gid: Number(st.gid) };
}

async function devicesUnder(dir: string, containerDir: string): Promise<LinuxDevice[]> {
  const found: LinuxDevice[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isCharacterDevice() && !entry.isBlockDevice()) continue;
    const hostPath = join(entry.parentPath ?? entry.path, entry.name);
    const device = await deviceAt(hostPath, join(containerDir, relative(dir, hostPath)));
    if (device) found.push(device);
  }
  return found;
}

/** The devices and cgroup rules for the config's devices; a path that is no device is refused. */
export async function containerDevices(devices: readonly CriDevice[]): Promise<{ devices: LinuxDevice[]; rules: DeviceRule[] }> {
  const out: LinuxDevice[] = [];
  const rules: DeviceRule[] = [];
  for (const [index, device] of devices.entries()) {
    const field = `config.devices[${index}]`;
    if (!device.host_path) throw invalidArgument(`${field}.host_path: must be set`);
    const permissions = device.permissions || 'rwm';
    if (!/^[rwm]+$/.test(permissions)) throw invalidArgument(`${field}.permissions: "${permissions}" is not a combination of r, w and m`);
    const hostPath = await realpath(device.host_path).catch(() => {
      throw invalidArgument(`${field}.host_path: ${device.host_path} does not exist`);
    });
    const containerPath = device.container_path || device.host_path;
    const st = await stat(hostPath);
    const found = st.isDirectory() ? await devicesUnder(hostPath, containerPath) : [await deviceAt(hostPath, containerPath)];
    if (found.some((d) => !d)) throw invalidArgument(`${field}.host_path: ${device.host_path} is not a device node`);
    for (const d of found as LinuxDevice[]) {
      out.push(d);
      rules.push({ allow: true, type: d.type, major: d.major, minor: d.minor, access: permissions });
    }
  }
  return { devices: out, rules };
}

/** Adds the config's devices to the spec: nodes in linux.devices, allow rules in linux.resources.devices. */
export async function withDevices(spec: { linux: Record<string, unknown> }, devices: readonly CriDevice[]): Promise<void> {
  if (devices.length === 0) return;
  const found = await containerDevices(devices);
  const linux = spec.linux as { devices?: LinuxDevice[]; resources?: { devices?: unknown[] } };
  linux.devices = [...(linux.devices ?? []).filter((d) => !found.devices.some((f) => f.path === d.path)), ...found.devices];
  linux.resources ??= {};
  linux.resources.devices = [...(linux.resources.devices ?? []), ...found.rules];
}

/** /dev directories without devices for a container (containerd's getDevices passes them by). */
const NOT_DEVICE_DIRS = new Set(['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev']);

/** Every device node under the host's `dir` but the console, symlinks not followed (oci.HostDevices). */
export async function hostDevices(dir = '/dev'): Promise<LinuxDevice[]> {
  const found: LinuxDevice[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory() && !NOT_DEVICE_DIRS.has(entry.name)) found.push(...(await hostDevices(path)));
    if (entry.name === 'console' || !(entry.isCharacterDevice() || entry.isBlockDevice())) continue;
    // a node removed since the listing is passed by
    const device = await deviceAt(path, path).catch(() => undefined);
    if (device) found.push(device);
  }
  return found;
}

/** A privileged container's devices (WithHostDevices, WithAllDevicesAllowed): all the host's, every access allowed. */
export async function withHostDevices(spec: { linux: Record<string, unknown> }): Promise<void> {
  const linux = spec.linux as { devices?: LinuxDevice[]; resources?: { devices?: unknown[] } };
  const taken = new Set((linux.devices ?? []).map((d) => d.path));
  linux.devices = [...(linux.devices ?? []), ...(await hostDevices()).filter((d) => !taken.has(d.path))];
  linux.resources ??= {};
  linux.resources.devices = [{ allow: true, access: 'rwm' }];
}
