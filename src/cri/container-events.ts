// GetContainerEvents (evented PLEG, cri-api's ContainerEventResponse) as a tail of the log:
// a CRI container's record (created, removed) and its task's start and exit become
// CREATED/STARTED/STOPPED/DELETED events, read from the log at the client's pace, so none is
// dropped (containerd 1.7 sends them through a bounded channel and drops what overflows).
// Each event carries the pod's and its containers' statuses once the read models hold it.
import type { EventLog } from '../log/index.js';
import type { ProjectionSet } from '../projections/index.js';
import type { CriContainerView, PodView } from '../projections/index.js';
import type { CriContainerCreated, TaskExited, TaskStarted } from '../events/index.js';
import { CRI_NAMESPACE } from './config.js';

export type ContainerEventType = 'CONTAINER_CREATED_EVENT' | 'CONTAINER_STARTED_EVENT' | 'CONTAINER_STOPPED_EVENT' | 'CONTAINER_DELETED_EVENT';

export interface ContainerEvent {
  readonly seq: number;
  readonly containerId: string;
  readonly type: ContainerEventType;
  /** When it happened (the record's time), ns. */
  readonly createdAt: bigint;
  /** The pod as the read model holds it after the event (undefined once it is removed). */
  readonly pod?: PodView;
  /** The pod's containers after the event. */
  readonly containers: readonly CriContainerView[];
}

export interface ContainerEventSources {
  readonly log: EventLog;
  readonly projections: ProjectionSet;
  pod(id: string): PodView | undefined;
  container(id: string): CriContainerView | undefined;
  containersOf(podId: string): CriContainerView[];
}

/** The container events from log position `from` on, until `signal` aborts. */
export async function* containerEvents(sources: ContainerEventSources, from: number, signal: AbortSignal): AsyncGenerator<ContainerEvent> {
  // the pod of each container seen created in this stream (a removed one is no longer in the store)
  const podOf = new Map<string, string>();
  for await (const record of sources.log.follow(from, signal)) {
    if (record.namespace !== CRI_NAMESPACE) continue;
    let containerId: string;
    let type: ContainerEventType;
    switch (record.type) {
      case 'CriContainerCreated': {
        const created = record.payload as CriContainerCreated;
        podOf.set(created.id, created.podId);
        [containerId, type] = [created.id, 'CONTAINER_CREATED_EVENT'];
        break;
      }
      case 'TaskStarted':
        [containerId, type] = [(record.payload as TaskStarted).containerId, 'CONTAINER_STARTED_EVENT'];
        break;
      case 'TaskExited': {
        const exit = record.payload as TaskExited;
        if (exit.id !== exit.containerId) continue; // an exec's exit
        [containerId, type] = [exit.containerId, 'CONTAINER_STOPPED_EVENT'];
        break;
      }
      case 'CriContainerRemoved':
        [containerId, type] = [(record.payload as { id: string }).id, 'CONTAINER_DELETED_EVENT'];
        break;
      default:
        continue;
    }
    const podId = podOf.get(containerId) ?? sources.container(containerId)?.podId;
    if (!podId) continue; // a task that is no CRI container (a pod's pause task, a ctr task in k8s.io)
    podOf.set(containerId, podId);
    await sources.projections.waitFor(record.seq);
    if (type === 'CONTAINER_DELETED_EVENT') podOf.delete(containerId);
    yield { seq: record.seq, containerId, type, createdAt: record.time, pod: sources.pod(podId), containers: sources.containersOf(podId) };
  }
}
