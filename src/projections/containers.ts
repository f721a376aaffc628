import type { ContainerRecord } from '../events/index.js';
import type { Projection } from './projection.js';
import { noteVersion, versionKey, type StreamVersions } from './stream-versions.js';

export interface ContainerView extends ContainerRecord {
  readonly createdAt: bigint;
  readonly updatedAt: bigint;
}

export interface ContainersState {
  /** namespace -> container id -> container */
  readonly live: Record<string, Record<string, ContainerView>>;
  /** `${namespace}/${id}` -> version of a live container's stream (a deleted one's is the log's: see streamVersionAfterDeletion). */
  readonly versions: StreamVersions;
  /** Namespaces that have had a container since they were created (containerd's containers bucket). */
  readonly buckets: Record<string, true>;
}

export const containersProjection: Projection<ContainersState> = {
  name: 'containers',
  version: 4,
  initial: () => ({ live: {}, versions: {}, buckets: {} }),
  evolve(state, record) {
    const ns = record.namespace;
    switch (record.type) {
      case 'ContainerCreated':
      case 'ContainerUpdated': {
        const container = record.payload;
        const containers = (state.live[ns] ??= {});
        containers[container.id] = { ...container, createdAt: containers[container.id]?.createdAt ?? record.time, updatedAt: record.time };
        noteVersion(state.versions, record);
        state.buckets[ns] = true;
        break;
      }
      case 'ContainerDeleted': {
        const { id } = record.payload;
        // an emptied namespace keeps its (empty) map until the namespace goes: testing for
        // emptiness costs O(containers) per delete in V8, and dominated a fold's time
        if (state.live[ns]) delete state.live[ns][id];
        delete state.versions[versionKey(ns, record.stream)];
        break;
      }
      case 'NamespaceDeleted':
        delete state.buckets[ns];
        delete state.live[ns];
        break;
    }
    return state;
  },
};

export function containerOf(state: ContainersState, namespace: string, id: string): ContainerView | undefined {
  return state.live[namespace]?.[id];
}

export function containersIn(state: ContainersState, namespace: string): ContainerView[] {
  return Object.values(state.live[namespace] ?? {}).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
