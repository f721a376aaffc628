import type { EventType } from './vocabulary.js';

/** The containerd topic each ledgerd event is published under; events absent here have none. */
export const TOPICS: Partial<Record<EventType, string>> = {
  NamespaceCreated: '/namespaces/create',
  NamespaceUpdated: '/namespaces/update',
  NamespaceDeleted: '/namespaces/delete',
  ImageCreated: '/images/create',
  ImageUpdated: '/images/update',
  ImageDeleted: '/images/delete',
  ContentDeleted: '/content/delete',
  ContainerCreated: '/containers/create',
  ContainerUpdated: '/containers/update',
  ContainerDeleted: '/containers/delete',
  TaskCreated: '/tasks/create',
  TaskStarted: '/tasks/start',
  TaskExited: '/tasks/exit',
  TaskDeleted: '/tasks/delete',
  TaskExecAdded: '/tasks/exec-added',
  TaskExecStarted: '/tasks/exec-started',
  TaskPaused: '/tasks/paused',
  TaskResumed: '/tasks/resumed',
  TaskOOM: '/tasks/oom',
  SnapshotPrepared: '/snapshot/prepare',
  SnapshotCommitted: '/snapshot/commit',
  SnapshotRemoved: '/snapshot/remove',
};

/** Events whose topic depends on the payload: published only when this holds. */
const PUBLISHED_WHEN: Partial<Record<EventType, (payload: never) => boolean>> = {
  // containerd publishes nothing for View (services/snapshots/snapshotters.go)
  SnapshotPrepared: (p: { kind: string }) => p.kind !== 'view',
};

/** The topic of an event type; given the payload, undefined too when this event is not published. */
export function topicOf(type: string, payload?: unknown): string | undefined {
  const when = PUBLISHED_WHEN[type as EventType];
  if (when && payload !== undefined && !when(payload as never)) return undefined;
  return TOPICS[type as EventType];
}
