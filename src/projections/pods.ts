import type { PodSandboxCreated } from '../events/index.js';
import type { Projection } from './projection.js';
import { noteVersion, versionKey, type StreamVersions } from './stream-versions.js';

export type PodState = 'SANDBOX_READY' | 'SANDBOX_NOTREADY';

export interface PodView extends PodSandboxCreated {
  readonly createdAt: bigint;
  state: PodState;
  /** Stopped through the CRI (networking torn down), not only exited. */
  stopped: boolean;
}

export interface PodsState {
  /** namespace -> pod id -> pod */
  readonly live: Record<string, Record<string, PodView>>;
  /** Versions of live pods' streams (a removed pod's is the log's). */
  readonly versions: StreamVersions;
}

/**
 * The CRI's sandbox store. A pod is ready from its Created event until it is stopped or its
 * pause task exits (a TaskExited of the container that has the pod's id).
 */
export const podsProjection: Projection<PodsState> = {
  name: 'pods',
  version: 2,
  initial: () => ({ live: {}, versions: {} }),
  evolve(state, record) {
    const ns = record.namespace;
    switch (record.type) {
      case 'PodSandboxCreated': {
        (state.live[ns] ??= {})[record.payload.id] = { ...record.payload, createdAt: record.time, state: 'SANDBOX_READY', stopped: false };
        noteVersion(state.versions, record);
        break;
      }
      case 'PodSandboxStopped': {
        const pod = state.live[ns]?.[record.payload.id];
        if (pod) Object.assign(pod, { state: 'SANDBOX_NOTREADY', stopped: true });
        noteVersion(state.versions, record);
        break;
      }
      case 'PodSandboxRemoved': {
        if (state.live[ns]) delete state.live[ns][record.payload.id];
        delete state.versions[versionKey(ns, record.stream)];
        break;
      }
      case 'TaskExited': {
        const exit = record.payload;
        const pod = state.live[ns]?.[exit.containerId];
        if (pod && exit.id === exit.containerId) pod.state = 'SANDBOX_NOTREADY';
        break;
      }
    }
    return state;
  },
};

export const podsIn = (state: PodsState, namespace: string): PodView[] => Object.values(state.live[namespace] ?? {});
export const podOf = (state: PodsState, namespace: string, id: string): PodView | undefined => state.live[namespace]?.[id];
