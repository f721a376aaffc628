import type { CriContainerCreated } from '../events/index.js';
import type { Projection } from './projection.js';
import { noteVersion, versionKey, type StreamVersions } from './stream-versions.js';

export interface CriContainerView extends CriContainerCreated {
  readonly createdAt: bigint;
  startedAt: bigint;
  finishedAt: bigint;
  pid: number;
  exitCode: number;
  oomKilled: boolean;
  /** The resources in effect (CRI LinuxContainerResources), once known. */
  resources?: Record<string, unknown>;
}

export interface CriContainersState {
  /** namespace -> id -> container */
  readonly live: Record<string, Record<string, CriContainerView>>;
  /** Versions of live containers' streams (a removed one's is the log's). */
  readonly versions: StreamVersions;
}

/** The CRI's container store: its records, with start and exit from the task's events. */
export const criContainersProjection: Projection<CriContainersState> = {
  name: 'cri-containers',
  version: 2,
  initial: () => ({ live: {}, versions: {} }),
  evolve(state, record) {
    const ns = record.namespace;
    switch (record.type) {
      case 'CriContainerCreated': {
        const c = record.payload;
        (state.live[ns] ??= {})[c.id] = { ...c, createdAt: record.time, startedAt: 0n, finishedAt: 0n, pid: 0, exitCode: 0, oomKilled: false };
        noteVersion(state.versions, record);
        break;
      }
      case 'CriContainerResourcesUpdated': {
        const { id, resources } = record.payload;
        const c = state.live[ns]?.[id];
        if (c) c.resources = resources;
        noteVersion(state.versions, record);
        break;
      }
      case 'CriContainerRemoved': {
        if (state.live[ns]) delete state.live[ns][record.payload.id];
        delete state.versions[versionKey(ns, record.stream)];
        break;
      }
      case 'TaskStarted': {
        const { containerId, pid } = record.payload;
        const c = state.live[ns]?.[containerId];
        if (c && !isSet(c.startedAt)) Object.assign(c, { startedAt: record.time, pid });
        break;
      }
      case 'TaskExited': {
        const exit = record.payload;
        const c = state.live[ns]?.[exit.containerId];
        if (c && exit.id === exit.containerId && !isSet(c.finishedAt)) Object.assign(c, { finishedAt: BigInt(exit.exitedAt) || record.time, exitCode: exit.exitStatus });
        break;
      }
      case 'TaskOOM': {
        const c = state.live[ns]?.[record.payload.containerId];
        if (c) c.oomKilled = true;
        break;
      }
    }
    return state;
  },
};

export type CriContainerState = 'CONTAINER_CREATED' | 'CONTAINER_RUNNING' | 'CONTAINER_EXITED';

/** pkg/cri/store/container/status.go State(): finished, else started, else created. */
export const criContainerState = (c: CriContainerView): CriContainerState =>
  isSet(c.finishedAt) ? 'CONTAINER_EXITED' : isSet(c.startedAt) ? 'CONTAINER_RUNNING' : 'CONTAINER_CREATED';

/** A time is set when not zero; a checkpoint may hand a small bigint back as a number. */
const isSet = (time: bigint | number) => Number(time) !== 0;
