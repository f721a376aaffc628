import type { EventRecord, LeaseResource } from '../events/index.js';
import type { Projection } from './projection.js';
import { noteVersion, versionKey, type StreamVersions } from './stream-versions.js';

export interface LeaseView {
  readonly id: string;
  readonly labels: Record<string, string>;
  readonly createdAt: bigint;
  /** Keyed by `${type}/${id}`. */
  readonly resources: Record<string, LeaseResource>;
}

export interface LeasesState {
  /** namespace -> lease id -> lease */
  readonly live: Record<string, Record<string, LeaseView>>;
  readonly versions: StreamVersions;
}

export const resourceKey = (resource: LeaseResource) => `${resource.type}/${resource.id}`;

/**
 * Leases and what they hold. Besides explicit AddResource/DeleteResource, a write made under a
 * lease (the containerd-lease header) carries the lease id in its own event; those are folded in
 * here too (see LEASED_WRITES).
 */
export const leasesProjection: Projection<LeasesState> = {
  name: 'leases',
  version: 4,
  initial: () => ({ live: {}, versions: {} }),
  evolve(state, record) {
    const ns = record.namespace;
    switch (record.type) {
      case 'LeaseCreated': {
        const { id, labels } = record.payload;
        (state.live[ns] ??= {})[id] = { id, labels, createdAt: record.time, resources: {} };
        noteVersion(state.versions, record);
        break;
      }
      case 'LeaseDeleted': {
        if (state.live[ns]) delete state.live[ns][record.payload.id];
        delete state.versions[versionKey(ns, record.stream)];
        break;
      }
      case 'LeaseResourceAdded':
      case 'LeaseResourceRemoved': {
        const { id, resource } = record.payload;
        const lease = state.live[ns]?.[id];
        if (lease) {
          if (record.type === 'LeaseResourceAdded') lease.resources[resourceKey(resource)] = resource;
          else delete lease.resources[resourceKey(resource)];
          noteVersion(state.versions, record);
        }
        break;
      }
      default: {
        const write = leasedWrite(record);
        if (write) applyLeasedWrite(state, ns, write);
      }
    }
    return state;
  },
};

/** What a write does to leases: the calling lease takes `hold`; `release` leaves every lease of the namespace. */
interface LeasedWrite {
  readonly lease?: string;
  readonly hold?: LeaseResource;
  readonly release?: readonly LeaseResource[];
}

const content = (digest: string): LeaseResource => ({ type: 'content', id: digest });
const ingest = (ref: string): LeaseResource => ({ type: 'ingests', id: ref });
const snapshot = (snapshotter: string, key: string): LeaseResource => ({ type: `snapshots/${snapshotter}`, id: key });

/**
 * The writes that a lease may hold, as containerd's metadata store adds and removes lease
 * references: a write under a lease holds what it made; a commit moves the hold from the ingest
 * (or active snapshot) to the result. A deletion releases the object from every lease of the
 * namespace (containerd only from the deleting call's lease, leaving dangling references that
 * would hold a later object of the same name).
 */
function leasedWrite(record: EventRecord): LeasedWrite | undefined {
  switch (record.type) {
    case 'ContentIngestStarted':
      return { lease: record.payload.lease, hold: ingest(record.payload.ref) };
    case 'ContentCommitted': {
      const p = record.payload;
      return { lease: p.lease, hold: content(p.digest), release: p.ref ? [ingest(p.ref)] : [] };
    }
    case 'ContentIngestAborted':
      return { release: [ingest(record.payload.ref)] };
    case 'ContentDeleted':
      return { release: [content(record.payload.digest)] };
    case 'SnapshotPrepared':
      return { lease: record.payload.lease, hold: snapshot(record.payload.snapshotter, record.payload.key) };
    case 'SnapshotCommitted': {
      const p = record.payload;
      return { lease: p.lease, hold: snapshot(p.snapshotter, p.name), release: [snapshot(p.snapshotter, p.key)] };
    }
    case 'SnapshotRemoved':
      return { release: [snapshot(record.payload.snapshotter, record.payload.key)] };
    default:
      return undefined;
  }
}

function applyLeasedWrite(state: LeasesState, namespace: string, write: LeasedWrite): void {
  const leases = state.live[namespace];
  if (!leases) return;
  for (const resource of write.release ?? []) {
    for (const lease of Object.values(leases)) delete lease.resources[resourceKey(resource)];
  }
  const holder = write.lease ? leases[write.lease] : undefined;
  if (holder && write.hold) holder.resources[resourceKey(write.hold)] = write.hold;
}

export function leaseOf(state: LeasesState, namespace: string, id: string): LeaseView | undefined {
  return state.live[namespace]?.[id];
}

export function leasesIn(state: LeasesState, namespace: string): LeaseView[] {
  return Object.values(state.live[namespace] ?? {}).sort((a, b) => a.id.localeCompare(b.id));
}
