// A CRI container's mounts in its OCI spec, by containerd 1.6's rules (oci.WithoutRunMount and
// pkg/cri/opts WithMounts): no /run tmpfs, the cgroup filesystem read-only at /sys/fs/cgroup,
// the config's host paths bound (made when missing, symlinks resolved) over the pod's files and
// the defaults they replace, shallow before deep, each with its propagation. A host-to-container
// (rslave) mount needs a shared or slave host mount, a bidirectional (rshared) one a shared
// one; either makes the rootfs propagate the same way, or no event crosses into the container.
import { mkdir, realpath, stat } from 'node:fs/promises';
import { posix } from 'node:path';
import type { RuntimeSpec } from '../client/run/oci-spec.js';
import { failedPrecondition, invalidArgument } from '../util/errdefs.js';
import { mountHolding } from '../util/mount/index.js';
import type { CriMount } from './types.js';

const CGROUP_MOUNT = { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] };

const depth = (path: string) => posix.normalize(path).split('/').length;

/** Whether the host mount holding `path` has one of these optional fields (shared:N, master:N). */
function propagatesFrom(path: string, tags: readonly string[]): { ok: boolean; mountPoint: string } {
  const holding = mountHolding(path);
  return { ok: holding.optional.some((field) => tags.some((tag) => field.startsWith(`${tag}:`))), mountPoint: holding.mountPoint };
}

async function hostSource(hostPath: string, field: string): Promise<string> {
  await stat(hostPath).catch(async (err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw invalidArgument(`${field}.host_path: ${hostPath}: ${err.message}`);
    await mkdir(hostPath, { recursive: true, mode: 0o755 });
  });
  return realpath(hostPath);
}

/**
 * The config's mounts and the pod's `extra` ones (hostname, hosts, resolv.conf, ...; a config
 * mount at the same container path wins) into the spec.
 */
export async function withContainerMounts(spec: RuntimeSpec, configMounts: readonly CriMount[], extra: readonly CriMount[]): Promise<void> {
  configMounts.forEach((m, i) => {
    if (!m.container_path) throw invalidArgument(`config.mounts[${i}].container_path: must be set`);
    if (!m.host_path) throw invalidArgument(`config.mounts[${i}].host_path: must be set`);
  });
  const given = new Set(configMounts.map((m) => posix.normalize(m.container_path!)));
  const mounts = [...configMounts.map((m, i) => ({ m, field: `config.mounts[${i}]` })), ...extra.filter((m) => !given.has(posix.normalize(m.container_path!))).map((m) => ({ m, field: `mount ${m.container_path}` }))];
  // a stable sort: a mount never hides one deeper than itself
  mounts.sort((a, b) => depth(a.m.container_path!) - depth(b.m.container_path!));

  const targets = new Set(mounts.map(({ m }) => posix.normalize(m.container_path!)));
  const replacesDev = targets.has('/dev');
  spec.mounts = [...spec.mounts.filter((m) => m.destination !== '/run'), { ...CGROUP_MOUNT, options: [...CGROUP_MOUNT.options] }].filter((m) => {
    const destination = posix.normalize(m.destination);
    return !targets.has(destination) && !(replacesDev && destination.startsWith('/dev/'));
  });

  const linux = spec.linux as { rootfsPropagation?: string };
  for (const { m, field } of mounts) {
    const source = await hostSource(m.host_path!, field);
    const propagation = m.propagation ?? 'PROPAGATION_PRIVATE';
    let mode = 'rprivate';
    if (propagation === 'PROPAGATION_BIDIRECTIONAL') {
      const { ok, mountPoint } = propagatesFrom(source, ['shared']);
      if (!ok) throw failedPrecondition(`${field}: host path ${source} is on mount ${mountPoint}, which is not shared (bidirectional propagation needs a shared mount)`);
      mode = 'rshared';
      linux.rootfsPropagation = 'rshared';
    } else if (propagation === 'PROPAGATION_HOST_TO_CONTAINER') {
      const { ok, mountPoint } = propagatesFrom(source, ['shared', 'master']);
      if (!ok) throw failedPrecondition(`${field}: host path ${source} is on mount ${mountPoint}, which is neither shared nor a slave (host-to-container propagation needs one)`);
      mode = 'rslave';
      if (linux.rootfsPropagation !== 'rshared') linux.rootfsPropagation = 'rslave';
    } else if (propagation !== 'PROPAGATION_PRIVATE') {
      throw invalidArgument(`${field}.propagation: unknown propagation "${propagation}"`);
    }
    spec.mounts.push({ destination: m.container_path!, type: 'bind', source, options: ['rbind', mode, m.readonly ? 'ro' : 'rw'] });
  }
}
