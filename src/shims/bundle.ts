import { mkdirSync, readlinkSync, renameSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { mountPointsUnder, unmountAll } from '../util/mount/index.js';
import { alreadyExists } from '../util/errdefs.js';
import { validateIdentifier } from '../util/identifiers.js';

/**
 * A task's bundle (runtime/v2/bundle.go): `<state>/<ns>/<id>` (0700) holding config.json, the
 * rootfs mount point and a `work` symlink to `<root>/<ns>/<id>`, the task's persistent work
 * directory. The shim writes the rest (address, init.pid, log.json, ...).
 */
export interface Bundle {
  readonly namespace: string;
  readonly id: string;
  readonly path: string;
}

export function bundleOf(state: string, namespace: string, id: string): Bundle {
  return { namespace, id, path: join(state, namespace, id) };
}

/** Creates the bundle; an existing one is AlreadyExists. Half-made bundles are removed again. */
export function createBundle(root: string, state: string, namespace: string, id: string, spec: Uint8Array): Bundle {
  validateIdentifier(namespace, 'namespace');
  validateIdentifier(id, 'task id');
  const bundle = bundleOf(state, namespace, id);
  const work = join(root, namespace, id);
  mkdirSync(dirname(bundle.path), { recursive: true, mode: 0o711 });
  try {
    mkdirSync(bundle.path, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw alreadyExists(`task ${id}`);
    throw err;
  }
  try {
    mkdirSync(join(bundle.path, 'rootfs'), { mode: 0o711 });
    mkdirSync(dirname(work), { recursive: true, mode: 0o711 });
    rmSync(work, { recursive: true, force: true }); // a stale work dir of an earlier task with this id
    mkdirSync(work, { mode: 0o711 });
    symlinkSync(work, join(bundle.path, 'work'));
    writeFileSync(join(bundle.path, 'config.json'), spec, { mode: 0o666 });
  } catch (err) {
    rmSync(bundle.path, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
    throw err;
  }
  return bundle;
}

/**
 * Removes a bundle and its work directory. The rootfs (and anything mounted below it) is
 * unmounted first and removed only if
 * then empty, so a rootfs still holding files is never deleted with the bundle. Each directory
 * is renamed to `.<id>` before the recursive delete, so a crash midway leaves nothing that
 * looks like a live bundle (load skips dot names).
 */
export async function deleteBundle(bundle: Bundle): Promise<void> {
  let work: string | undefined;
  try {
    work = readlinkSync(join(bundle.path, 'work'));
  } catch {
    work = undefined;
  }
  const rootfs = join(bundle.path, 'rootfs');
  for (const point of mountPointsUnder(rootfs)) await unmountAll(point);
  try {
    rmdirSync(rootfs);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`failed to remove bundle rootfs: ${(err as Error).message}`, { cause: err });
  }
  atomicDelete(bundle.path);
  if (work) atomicDelete(work);
}

function atomicDelete(path: string): void {
  const hidden = join(dirname(path), `.${basename(path)}`);
  try {
    renameSync(path, hidden);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  rmSync(hidden, { recursive: true, force: true });
}
