import type { RecordMeta } from '../log/index.js';
import type { Mount } from '../util/mount/index.js';

/** containerd's snapshot kinds (snapshots.Kind); the wire enum is VIEW=1, ACTIVE=2, COMMITTED=3. */
export type SnapshotKind = 'active' | 'view' | 'committed';

/** What Stat, Update and List return (containerd's snapshots.Info). */
export interface SnapshotInfo {
  /** The key of an active or view snapshot, the name of a committed one. */
  readonly name: string;
  /** Name of the committed parent, "" for none. */
  readonly parent: string;
  readonly kind: SnapshotKind;
  readonly labels: Record<string, string>;
  /** Nanoseconds since the epoch. */
  readonly createdAt: bigint;
  readonly updatedAt: bigint;
}

/** Disk usage: bytes of allocated blocks and distinct inodes (containerd's snapshots.Usage). */
export interface SnapshotUsage {
  readonly size: number;
  readonly inodes: number;
}

/** Who asked, and under which lease (the containerd-lease header), for writes. */
export interface WriteOptions {
  readonly labels?: Record<string, string>;
  readonly lease?: string;
  readonly meta?: RecordMeta;
  /** Why the write happened when it was not a client's request (e.g. "gc"). */
  readonly reason?: string;
}

/**
 * A snapshotter as containerd's clients see it (core snapshots.Snapshotter behind the
 * metadata layer): keys are per namespace; committed snapshots are the parents of active ones
 * and views. The namespace is an explicit argument where containerd reads it from the context.
 *
 * Implemented in commands/ over the event log (the facts) and a backend (the directories).
 */
export interface Snapshotter {
  /** The snapshotter's name on the wire: "overlayfs", "native". */
  readonly name: string;
  stat(namespace: string, key: string): Promise<SnapshotInfo>;
  /** Only labels can change: paths `labels` and `labels.<key>`; no paths replaces all labels. */
  update(namespace: string, info: { name: string; labels?: Record<string, string> }, paths: readonly string[], options?: WriteOptions): Promise<SnapshotInfo>;
  /** Active: measured now; committed: measured at commit; view: zero. */
  usage(namespace: string, key: string): Promise<SnapshotUsage>;
  /** Mounts of an active snapshot or a view (a committed snapshot cannot be mounted). */
  mounts(namespace: string, key: string): Promise<Mount[]>;
  /** A new writable snapshot `key` on top of the committed `parent` ("" for an empty one). */
  prepare(namespace: string, key: string, parent: string, options?: WriteOptions): Promise<Mount[]>;
  /** A new read-only snapshot `key` of the committed `parent`. */
  view(namespace: string, key: string, parent: string, options?: WriteOptions): Promise<Mount[]>;
  /** Turns the active snapshot `key` into the committed snapshot `name`; `key` is gone after. */
  commit(namespace: string, name: string, key: string, options?: WriteOptions): Promise<void>;
  /** Removes a snapshot that has no children. */
  remove(namespace: string, key: string, options?: WriteOptions): Promise<void>;
  /** Every snapshot of the namespace in key order, those `match` accepts. */
  list(namespace: string, match?: (info: SnapshotInfo) => boolean): Promise<SnapshotInfo[]>;
  /** Deletes directories no snapshot owns (left by crashes or interrupted removals); returns them. */
  cleanup(): Promise<string[]>;
}
