// Test fixtures for the shim tests: bundles laid out as the daemon lays them out (busybox rootfs
// and OCI spec from ../helpers/oci-bundle.ts), and the cleanup of what runc leaves behind.
import { mkdirSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { containerSkipReason } from '../helpers/oci-bundle.js';

export { busyboxRootfs, ociSpec, type SpecOptions } from '../helpers/oci-bundle.js';

export const skipWithoutRunc: string | false = containerSkipReason() ?? false;

/** <state>/io.containerd.runtime.v2.task/<ns>/<id> with config.json, as the daemon creates a bundle. */
export function makeBundle(state: string, namespace: string, id: string, spec: Record<string, unknown>): string {
  const bundle = join(state, 'io.containerd.runtime.v2.task', namespace, id);
  mkdirSync(bundle, { recursive: true, mode: 0o700 });
  mkdirSync(join(bundle, 'rootfs'), { mode: 0o711 });
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec));
  return bundle;
}

/**
 * After a test: runc's state directory for the namespace and the namespace's (empty) cgroup
 * parents, which runc leaves behind when it deletes a container.
 */
export function removeNamespaceLeftovers(namespace: string): void {
  const dirs = [join('/run/containerd/runc', namespace)];
  for (const controller of safeReaddir('/sys/fs/cgroup')) dirs.push(join('/sys/fs/cgroup', controller, namespace));
  for (const dir of dirs) {
    try {
      rmdirSync(dir);
    } catch {
      // not there, or still in use: left alone
    }
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
