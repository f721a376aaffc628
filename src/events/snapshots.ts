/**
 * Snapshot aggregate: one stream per snapshotter in each namespace, "snapshots/<snapshotter>".
 * The tree of a namespace's snapshots is the consistency boundary (a parent cannot go while a
 * child is being prepared on it), so all its changes are versions of one stream.
 *
 * `id` numbers the snapshot's directory in the snapshotter's root (`snapshots/<id>`); ids are
 * unique per snapshotter across namespaces and never reused. A commit keeps the id.
 */
export const snapshotStream = (snapshotter: string) => `snapshots/${snapshotter}`;

export interface SnapshotPrepared {
  readonly snapshotter: string;
  readonly key: string;
  /** Name of the committed parent, "" for none. */
  readonly parent: string;
  /** Prepare makes an active snapshot, View a view (views publish no containerd event). */
  readonly kind: 'active' | 'view';
  readonly id: number;
  readonly labels: Record<string, string>;
  /** The lease of the request (containerd-lease header) that now holds the snapshot. */
  readonly lease?: string;
}

export interface SnapshotCommitted {
  readonly snapshotter: string;
  /** The active snapshot that is gone... */
  readonly key: string;
  /** ...and the committed snapshot that took its place (same id, same parent). */
  readonly name: string;
  readonly id: number;
  /** The committed snapshot's labels: Commit's, not Prepare's. */
  readonly labels: Record<string, string>;
  /** Disk usage of the layer measured at commit. */
  readonly size: number;
  readonly inodes: number;
  readonly lease?: string;
}

export interface SnapshotRemoved {
  readonly snapshotter: string;
  readonly key: string;
  readonly id: number;
  /** "gc" when the collector removed it. */
  readonly reason?: string;
}

export interface SnapshotLabelsUpdated {
  readonly snapshotter: string;
  readonly key: string;
  /** The complete label set after the update. */
  readonly labels: Record<string, string>;
}

export interface SnapshotEvents {
  SnapshotPrepared: SnapshotPrepared;
  SnapshotCommitted: SnapshotCommitted;
  SnapshotRemoved: SnapshotRemoved;
  SnapshotLabelsUpdated: SnapshotLabelsUpdated;
}
