import { readdirSync, readlinkSync, renameSync } from 'node:fs';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { mountPointsUnder, unmountAll } from '../../util/mount/index.js';
import { alreadyExists } from '../../util/errdefs.js';
import { validateIdentifier } from '../../util/identifiers.js';

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

/**
 * Creates the bundle; an existing one is AlreadyExists. Half-made bundles are removed again. Off
 * the event loop, its parts side by side: on a busy disk each directory operation can wait
 * milliseconds for the filesystem's journal (mkdir alone blocked the loop 2.5 ms per task at
 * load 8 when this was synchronous).
 */
export async function createBundle(root: string, state: string, namespace: string, id: string, spec: Uint8Array): Promise<Bundle> {
  validateIdentifier(namespace, 'namespace');
  validateIdentifier(id, 'task id');
  const bundle = bundleOf(state, namespace, id);
  const work = join(root, namespace, id);
  await mkdir(dirname(bundle.path), { recursive: true, mode: 0o711 });
  try {
    await mkdir(bundle.path, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw alreadyExists(`task ${id}`);
    throw err;
  }
  const workDir = async () => {
    await mkdir(dirname(work), { recursive: true, mode: 0o711 });
    await rm(work, { recursive: true, force: true }); // a stale work dir of an earlier task with this id
    await mkdir(work, { mode: 0o711 });
    await symlink(work, join(bundle.path, 'work'));
  };
  const parts = await Promise.allSettled([
    mkdir(join(bundle.path, 'rootfs'), { mode: 0o711 }),
    workDir(),
    writeFile(join(bundle.path, 'config.json'), spec, { mode: 0o666 }),
  ]);
  const failed = parts.find((part): part is PromiseRejectedResult => part.status === 'rejected');
  if (failed) {
    await Promise.all([rm(bundle.path, { recursive: true, force: true }), rm(work, { recursive: true, force: true })]);
    throw failed.reason;
  }
  return bundle;
}

/** Removes a bundle and its work directory (see setAsideBundle), waiting for the files to go. */
export async function deleteBundle(bundle: Bundle): Promise<void> {
  await (await setAsideBundle(bundle)).removal;
}

let setAside = 0;

/**
 * Takes a bundle out of the way at once: its rootfs (and anything mounted below it) is
 * unmounted, then the bundle and its work directory are renamed to dot names, which are never
 * taken for a live bundle (a task of the same id can be created right away; load() removes
 * leftovers). `removal` deletes the renamed directories in the background. A rootfs still
 * holding files after the unmount is never deleted with the bundle: nothing is renamed then.
 */
export async function setAsideBundle(bundle: Bundle): Promise<{ removal: Promise<void> }> {
  let work: string | undefined;
  try {
    work = readlinkSync(join(bundle.path, 'work'));
  } catch {
    work = undefined;
  }
  const rootfs = join(bundle.path, 'rootfs');
  // The shim unmounts the rootfs on Delete, so it is usually an empty directory: the mount table
  // (a whole /proc read, longer with every mount on the host) is read only when it is not. An
  // empty file system left mounted there fails the removal, and start-up's clean-up unmounts it.
  if (!isEmptyOrMissing(rootfs)) {
    for (const point of mountPointsUnder(rootfs)) await unmountAll(point);
    if (!isEmptyOrMissing(rootfs)) throw new Error(`failed to remove bundle rootfs: ${rootfs} is not empty`);
  }
  const suffix = `${process.pid}-${++setAside}`;
  const hiddenBundle = hide(bundle.path, suffix);
  const hiddenWork = work === undefined ? undefined : hide(work, suffix);
  const removal = removeInBackground([hiddenBundle, hiddenWork].filter((path): path is string => path !== undefined));
  return { removal };
}

/** Removals of set-aside directories under way, one after another (see removeInBackground). */
let removals: Promise<void> = Promise.resolve();

/**
 * Removes the directories off the event loop, one removal at a time. Not inline: each unlink
 * waits for the filesystem's journal, ~10 ms of blocked loop per bundle on a busy host (measured
 * 536 ms of unlinkSync over 54 `ctr run --rm`, at load 11). One at a time: the thread pool also
 * runs the log's commits, which must not queue behind a row of deletions.
 */
function removeInBackground(paths: readonly string[]): Promise<void> {
  const removal = removals.then(async () => {
    for (const path of paths) await rm(path, { recursive: true, force: true });
  });
  removals = removal.catch(() => undefined);
  return removal;
}

function isEmptyOrMissing(dir: string): boolean {
  try {
    return readdirSync(dir).length === 0;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw err;
  }
}

/** Renames `path` to `.<name>-<suffix>` beside it; undefined if there is nothing there. */
function hide(path: string, suffix: string): string | undefined {
  const hidden = join(dirname(path), `.${basename(path)}-${suffix}`);
  try {
    renameSync(path, hidden);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return hidden;
}
