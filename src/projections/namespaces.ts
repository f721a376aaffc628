import { IMPLIES_NAMESPACE } from '../events/index.js';
import { noteVersion, type StreamVersions } from './stream-versions.js';
import type { Projection } from './projection.js';

export interface NamespaceView {
  readonly name: string;
  readonly labels: Record<string, string>;
  /** Nanoseconds since the epoch. */
  readonly createdAt: bigint;
  readonly updatedAt: bigint;
}

export interface NamespacesState {
  readonly live: Record<string, NamespaceView>;
  readonly versions: StreamVersions;
}

export const namespacesProjection: Projection<NamespacesState> = {
  name: 'namespaces',
  version: 2,
  initial: () => ({ live: {}, versions: {} }),
  evolve(state, record) {
    switch (record.type) {
      case 'NamespaceCreated':
      case 'NamespaceUpdated': {
        const { name, labels } = record.payload;
        const existing = state.live[name];
        state.live[name] = { name, labels, createdAt: existing?.createdAt ?? record.time, updatedAt: record.time };
        noteVersion(state.versions, record);
        break;
      }
      case 'NamespaceDeleted':
        delete state.live[record.namespace];
        noteVersion(state.versions, record);
        break;
      default:
        if (IMPLIES_NAMESPACE.has(record.type) && !state.live[record.namespace]) {
          state.live[record.namespace] = { name: record.namespace, labels: {}, createdAt: record.time, updatedAt: record.time };
        }
    }
    return state;
  },
};
