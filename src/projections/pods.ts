import type { LogRecord } from '../log/index.js';
import type { PodSandboxCreated, TaskExited } from '../events/index.js';
import type { Projection } from './projection.js';

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
  /** `${namespace}/${id}` -> version of the pod's stream, removed pods included. */
  readonly versions: Record<string, number>;
}

/**
 * The CRI's sandbox store. A pod is ready from its Created event until it is stopped or its
 * pause task exits (a TaskExited of the container that has the pod's id).
 */
export const podsProjection: Projection<PodsState> = {
  name: 'pods',
  version: 1,
  initial: () => ({ live: {}, versions: {} }),
  evolve(state, record: LogRecord) {
    const ns = record.namespace;
    switch (record.type) {
      case 'PodSandboxCreated': {
        const p = record.payload as PodSandboxCreated;
        (state.live[ns] ??= {})[p.id] = { ...p, createdAt: record.time, state: 'SANDBOX_READY', stopped: false };
        state.versions[`${ns}/${p.id}`] = record.version;
        break;
      }
      case 'PodSandboxStopped': {
        const { id } = record.payload as { id: string };
        const pod = state.live[ns]?.[id];
        if (pod) Object.assign(pod, { state: 'SANDBOX_NOTREADY', stopped: true });
        state.versions[`${ns}/${id}`] = record.version;
        break;
      }
      case 'PodSandboxRemoved': {
        const { id } = record.payload as { id: string };
        if (state.live[ns]) delete state.live[ns][id];
        state.versions[`${ns}/${id}`] = record.version;
        break;
      }
      case 'TaskExited': {
        const exit = record.payload as TaskExited;
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
