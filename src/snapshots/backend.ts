import type { Mount } from '../util/mount/index.js';
import type { SnapshotUsage } from './snapshotter.js';

/** The kinds a backend creates directories for; committing changes no directory. */
export type CreateKind = 'active' | 'view';

/**
 * A snapshotter's storage: directories named by the numeric ids ledgerd allocates, under
 * `<root>/snapshots/<id>`. A backend keeps no metadata of its own: which key an id belongs to,
 * its kind, parent and labels are events in the log. Given the parent chain (ids of the
 * ancestors, nearest first) it creates a snapshot's directories and says how to mount them.
 */
export interface SnapshotBackend {
  /** The snapshotter's name on the wire: "overlayfs", "native". */
  readonly name: string;
  readonly root: string;
  /**
   * Creates the directories of snapshot `id` (in a temporary directory, renamed into place).
   * Throws IdTakenError when `<root>/snapshots/<id>` already exists (a directory without an event).
   */
  create(id: number, kind: CreateKind, parents: readonly number[]): Promise<void>;
  /** How to mount snapshot `id` (containerd's exact mounts for this backend). */
  mounts(id: number, kind: CreateKind, parents: readonly number[]): Mount[];
  /** Disk usage of what the snapshot itself holds (the upper directory; native: its whole tree). */
  usage(id: number): Promise<SnapshotUsage>;
  /** Deletes snapshot `id`'s directories; one that does not exist is not an error. */
  remove(id: number): Promise<void>;
  /**
   * Deletes every entry of `<root>/snapshots` that is neither the directory of an id `keep`
   * accepts (asked right before each deletion) nor a create in progress; returns the paths deleted.
   */
  cleanup(keep: (id: number) => boolean): Promise<string[]>;
}

/** The directory of an id exists already: the caller allocates another id. */
export class IdTakenError extends Error {
  constructor(readonly id: number) {
    super(`snapshot directory ${id} already exists`);
    this.name = 'IdTakenError';
  }
}
