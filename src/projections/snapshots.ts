import type { Projection } from './projection.js';
import { noteVersion, type StreamVersions } from './stream-versions.js';

export interface SnapshotView {
  /** The key of an active snapshot or view, the name of a committed one. */
  readonly key: string;
  readonly kind: 'active' | 'view' | 'committed';
  /** Name of the committed parent, "" for none. */
  readonly parent: string;
  /** Directory id in the snapshotter's root. */
  readonly id: number;
  readonly labels: Record<string, string>;
  /** Nanoseconds since the epoch. */
  readonly createdAt: bigint;
  readonly updatedAt: bigint;
  /** Usage measured at commit (0 before). */
  readonly size: number;
  readonly inodes: number;
  /** Snapshots (active, view or committed) whose parent this is. */
  readonly children: number;
}

export type SnapshotTree = Record<string, SnapshotView>;

export interface SnapshotsState {
  /** namespace -> snapshotter -> key -> snapshot */
  readonly live: Record<string, Record<string, SnapshotTree>>;
  /** snapshotter -> highest id any event recorded (ids are never reused). */
  readonly lastIds: Record<string, number>;
  /** snapshotter -> id -> namespace of the live snapshot that owns the directory. */
  readonly owners: Record<string, Record<number, string>>;
  /** Versions of the trees' streams ("snapshots/<snapshotter>" of each namespace). */
  readonly versions: StreamVersions;
}

/** The snapshots of every namespace and snapshotter, with the parent/child links between them. */
export const snapshotsProjection: Projection<SnapshotsState> = {
  name: 'snapshots',
  version: 2,
  initial: () => ({ live: {}, lastIds: {}, owners: {}, versions: {} }),
  evolve(state, record) {
    const ns = record.namespace;
    switch (record.type) {
      case 'SnapshotPrepared': {
        const p = record.payload;
        const tree = treeOf(state, ns, p.snapshotter);
        tree[p.key] = {
          key: p.key,
          kind: p.kind,
          parent: p.parent,
          id: p.id,
          labels: p.labels,
          createdAt: record.time,
          updatedAt: record.time,
          size: 0,
          inodes: 0,
          children: 0,
        };
        adjustChildren(tree, p.parent, +1);
        own(state, p.snapshotter, p.id, ns);
        break;
      }
      case 'SnapshotCommitted': {
        const p = record.payload;
        const tree = treeOf(state, ns, p.snapshotter);
        const active = tree[p.key];
        delete tree[p.key];
        tree[p.name] = {
          key: p.name,
          kind: 'committed',
          parent: active?.parent ?? '',
          id: p.id,
          labels: p.labels,
          createdAt: record.time,
          updatedAt: record.time,
          size: p.size,
          inodes: p.inodes,
          children: active?.children ?? 0,
        };
        own(state, p.snapshotter, p.id, ns);
        break;
      }
      case 'SnapshotRemoved': {
        const p = record.payload;
        const tree = treeOf(state, ns, p.snapshotter);
        const removed = tree[p.key];
        delete tree[p.key];
        if (removed) adjustChildren(tree, removed.parent, -1);
        delete state.owners[p.snapshotter]?.[p.id];
        break;
      }
      case 'SnapshotLabelsUpdated': {
        const p = record.payload;
        const tree = treeOf(state, ns, p.snapshotter);
        const current = tree[p.key];
        if (current) tree[p.key] = { ...current, labels: p.labels, updatedAt: record.time };
        break;
      }
      default:
        return state;
    }
    noteVersion(state.versions, record);
    return state;
  },
};

function treeOf(state: SnapshotsState, namespace: string, snapshotter: string): SnapshotTree {
  return ((state.live[namespace] ??= {})[snapshotter] ??= {});
}

function adjustChildren(tree: SnapshotTree, parent: string, by: number): void {
  const view = parent ? tree[parent] : undefined;
  if (view) tree[parent] = { ...view, children: Math.max(0, view.children + by) };
}

function own(state: SnapshotsState, snapshotter: string, id: number, namespace: string): void {
  (state.owners[snapshotter] ??= {})[id] = namespace;
  state.lastIds[snapshotter] = Math.max(state.lastIds[snapshotter] ?? 0, id);
}

export function snapshotOf(state: SnapshotsState, namespace: string, snapshotter: string, key: string): SnapshotView | undefined {
  const tree = state.live[namespace]?.[snapshotter];
  return tree && Object.prototype.hasOwnProperty.call(tree, key) ? tree[key] : undefined;
}

/** A namespace's snapshots in one snapshotter, in byte order of their keys (containerd's bolt order). */
export function snapshotsIn(state: SnapshotsState, namespace: string, snapshotter: string): SnapshotView[] {
  return Object.values(state.live[namespace]?.[snapshotter] ?? {}).sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
}

/** Ids of a snapshotter's live snapshots, in every namespace: the directories to keep. */
export function liveIds(state: SnapshotsState, snapshotter: string): Set<number> {
  return new Set(Object.keys(state.owners[snapshotter] ?? {}).map(Number));
}
