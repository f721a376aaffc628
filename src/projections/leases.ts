import type { LogRecord } from '../log/index.js';
import type { LeaseCreated, LeaseResource, LeaseResourceAdded } from '../events/index.js';
import type { Projection } from './projection.js';

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
  /** `${namespace}/${id}` -> version of the lease's stream, deleted leases included. */
  readonly versions: Record<string, number>;
}

export const resourceKey = (resource: LeaseResource) => `${resource.type}/${resource.id}`;

/**
 * Leases and what they hold. Besides explicit AddResource/DeleteResource, a write made under a
 * lease (the containerd-lease header) carries the lease id in its own event; those are folded in
 * by `attachToLease`, which other read models' event types feed (see LEASED_WRITES).
 */
export const leasesProjection: Projection<LeasesState> = {
  name: 'leases',
  version: 1,
  initial: () => ({ live: {}, versions: {} }),
  evolve(state, record: LogRecord) {
    const ns = record.namespace;
    switch (record.type) {
      case 'LeaseCreated': {
        const { id, labels } = record.payload as LeaseCreated;
        (state.live[ns] ??= {})[id] = { id, labels, createdAt: record.time, resources: {} };
        state.versions[`${ns}/${id}`] = record.version;
        break;
      }
      case 'LeaseDeleted': {
        const { id } = record.payload as { id: string };
        if (state.live[ns]) delete state.live[ns][id];
        state.versions[`${ns}/${id}`] = record.version;
        break;
      }
      case 'LeaseResourceAdded':
      case 'LeaseResourceRemoved': {
        const { id, resource } = record.payload as LeaseResourceAdded;
        const lease = state.live[ns]?.[id];
        if (lease) {
          if (record.type === 'LeaseResourceAdded') lease.resources[resourceKey(resource)] = resource;
          else delete lease.resources[resourceKey(resource)];
        }
        state.versions[`${ns}/${id}`] = record.version;
        break;
      }
      default: {
        const attached = LEASED_WRITES[record.type]?.(record.payload);
        if (attached) {
          const lease = state.live[ns]?.[attached.lease];
          if (lease) lease.resources[resourceKey(attached.resource)] = attached.resource;
        }
      }
    }
    return state;
  },
};

/** Events of writes that a lease may hold: how to read the lease id and the resource from them. */
const LEASED_WRITES: Record<string, (payload: unknown) => { lease: string; resource: LeaseResource } | undefined> = {};

export function leaseOf(state: LeasesState, namespace: string, id: string): LeaseView | undefined {
  return state.live[namespace]?.[id];
}

export function leasesIn(state: LeasesState, namespace: string): LeaseView[] {
  return Object.values(state.live[namespace] ?? {}).sort((a, b) => a.id.localeCompare(b.id));
}
