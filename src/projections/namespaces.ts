import type { LogRecord } from '../log/index.js';
import { IMPLIES_NAMESPACE, type NamespaceCreated, type NamespaceUpdated } from '../events/index.js';
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
  /** Version of each namespace's own stream, deleted ones included: the expected version of the next change. */
  readonly versions: Record<string, number>;
}

export const namespacesProjection: Projection<NamespacesState> = {
  name: 'namespaces',
  version: 1,
  initial: () => ({ live: {}, versions: {} }),
  evolve(state, record: LogRecord) {
    switch (record.type) {
      case 'NamespaceCreated':
      case 'NamespaceUpdated': {
        const { name, labels } = record.payload as NamespaceCreated | NamespaceUpdated;
        const existing = state.live[name];
        state.live[name] = { name, labels, createdAt: existing?.createdAt ?? record.time, updatedAt: record.time };
        state.versions[name] = record.version;
        break;
      }
      case 'NamespaceDeleted':
        delete state.live[record.namespace];
        state.versions[record.namespace] = record.version;
        break;
      default:
        if (IMPLIES_NAMESPACE.has(record.type) && !state.live[record.namespace]) {
          state.live[record.namespace] = { name: record.namespace, labels: {}, createdAt: record.time, updatedAt: record.time };
        }
    }
    return state;
  },
};
