import type { LogRecord } from '../log/index.js';
import {
  blobsIn,
  containersIn,
  contentProjection,
  containersProjection,
  imagesIn,
  imagesProjection,
  leasesIn,
  leasesProjection,
  namespacesProjection,
  snapshotsIn,
  snapshotsProjection,
  tasksIn,
  tasksProjection,
  type Projection,
} from '../projections/index.js';
import { invalidArgument } from '../util/errdefs.js';
import { toJson } from '../util/json.js';

/** One row of a read model: its key, its cells, and the view it was made from (for diffs). */
export interface ModelRow {
  readonly key: string;
  readonly cells: readonly string[];
  readonly view: object;
}

/**
 * A read model as an operator reads it: which projection holds it, the columns of its live
 * listing (ctr's, or ledgerctl's own for tasks), its rows in a namespace, and which of its
 * objects a record changes (to say what last touched an object in a range of the log).
 */
export interface ReadModelTable<S = any> {
  readonly name: string;
  readonly projection: Projection<S>;
  readonly columns: readonly string[];
  rows(state: S, namespace: string, at: bigint): ModelRow[];
  /** Keys of the objects `record` changes in this model, if any. */
  touches(record: LogRecord, namespace: string): readonly string[];
}

const labelList = (labels: Record<string, string>) =>
  Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .sort()
    .join(',') || '-';

const rfc3339 = (ns: bigint) => new Date(Number(ns / 1_000_000n)).toISOString().replace(/\.\d+Z$/, 'Z');

/** Docker's units.HumanDuration, which `ctr content ls` prints as AGE. */
export function humanDuration(ns: bigint): string {
  const seconds = Number(ns / 1_000_000_000n);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(seconds / 60);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(seconds / 3600);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(hours / 24 / 365)} years`;
}

/** The payload field that names the object, for records of the given type prefix in `namespace`. */
const touchedBy =
  (prefix: string, field: string) =>
  (record: LogRecord, namespace: string): string[] => {
    if (record.namespace !== namespace || !record.type.startsWith(prefix)) return [];
    const key = (record.payload as Record<string, unknown> | undefined)?.[field];
    return typeof key === 'string' ? [key] : [];
  };

/** Keeps each table's state type while the list holds them all. */
const table = <S>(definition: ReadModelTable<S>): ReadModelTable => definition;

export const READ_MODEL_TABLES: readonly ReadModelTable[] = [
  table({
    name: 'images',
    projection: imagesProjection,
    columns: ['REF', 'TYPE', 'DIGEST', 'SIZE', 'LABELS'],
    rows: (state, ns) =>
      imagesIn(state, ns).map((image) => ({
        key: image.name,
        cells: [image.name, image.target.mediaType, image.target.digest, String(image.target.size), labelList(image.labels)],
        view: image,
      })),
    touches: touchedBy('Image', 'name'),
  }),
  table({
    name: 'containers',
    projection: containersProjection,
    columns: ['CONTAINER', 'IMAGE', 'RUNTIME'],
    rows: (state, ns) =>
      containersIn(state, ns).map((container) => ({
        key: container.id,
        cells: [container.id, container.image || '-', container.runtime.name],
        view: container,
      })),
    touches: touchedBy('Container', 'id'),
  }),
  table({
    name: 'tasks',
    projection: tasksProjection,
    columns: ['TASK', 'PID', 'STATUS'],
    rows: (state, ns) =>
      tasksIn(state, ns).map((task) => ({
        key: task.containerId,
        cells: [task.containerId, String(task.init.pid), task.init.status.toUpperCase()],
        view: task,
      })),
    touches: touchedBy('Task', 'containerId'),
  }),
  table({
    name: 'snapshots',
    projection: snapshotsProjection,
    columns: ['SNAPSHOTTER', 'KEY', 'PARENT', 'KIND'],
    rows: (state, ns) =>
      Object.keys(state.live[ns] ?? {})
        .sort()
        .flatMap((snapshotter) =>
          snapshotsIn(state, ns, snapshotter).map((snapshot) => ({
            key: `${snapshotter}/${snapshot.key}`,
            cells: [snapshotter, snapshot.key, snapshot.parent, snapshot.kind],
            view: snapshot,
          })),
        ),
    touches(record, ns) {
      if (record.namespace !== ns || !record.type.startsWith('Snapshot')) return [];
      const payload = record.payload as { snapshotter: string; key: string; name?: string };
      const keys = [`${payload.snapshotter}/${payload.key}`];
      if (record.type === 'SnapshotCommitted' && payload.name) keys.push(`${payload.snapshotter}/${payload.name}`);
      return keys;
    },
  }),
  table({
    name: 'content',
    projection: contentProjection,
    columns: ['DIGEST', 'SIZE', 'AGE', 'LABELS'],
    rows: (state, ns, at) =>
      blobsIn(state, ns).map((blob) => ({
        key: blob.digest,
        cells: [blob.digest, String(blob.size), humanDuration(at - BigInt(blob.createdAt)), labelList(blob.labels)],
        view: blob,
      })),
    touches: (record, ns) =>
      ['ContentCommitted', 'ContentLabelsUpdated', 'ContentDeleted'].includes(record.type) ? touchedBy('Content', 'digest')(record, ns) : [],
  }),
  table({
    name: 'leases',
    projection: leasesProjection,
    columns: ['ID', 'CREATED AT', 'LABELS'],
    rows: (state, ns) =>
      leasesIn(state, ns).map((lease) => ({ key: lease.id, cells: [lease.id, rfc3339(BigInt(lease.createdAt)), labelList(lease.labels)], view: lease })),
    touches: touchedBy('Lease', 'id'),
  }),
  table({
    name: 'namespaces',
    projection: namespacesProjection,
    columns: ['NAME', 'LABELS'],
    rows: (state) =>
      Object.values(state.live)
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((ns) => ({ key: ns.name, cells: [ns.name, labelList(ns.labels)], view: ns })),
    touches: (record) => (record.type.startsWith('Namespace') ? [record.namespace] : []),
  }),
];

/** The tables named (all of them when none is), or an error naming the unknown one. */
export function tablesNamed(names: readonly string[]): ReadModelTable[] {
  if (names.length === 0) return [...READ_MODEL_TABLES];
  return names.map((name) => {
    const found = READ_MODEL_TABLES.find((t) => t.name === name);
    if (!found) throw invalidArgument(`models: unknown read model "${name}": one of ${READ_MODEL_TABLES.map((t) => t.name).join(', ')}`);
    return found;
  });
}

/** Fields that change with every write and say nothing about what changed. */
const BOOKKEEPING = new Set(['updatedAt', 'children']);

/** Top-level fields whose values differ between two views of one object. */
export function changedFields(before: object, after: object): string[] {
  const a = before as Record<string, unknown>;
  const b = after as Record<string, unknown>;
  return [...new Set([...Object.keys(a), ...Object.keys(b)])]
    .filter((field) => !BOOKKEEPING.has(field) && toJson(a[field]) !== toJson(b[field]))
    .sort();
}
