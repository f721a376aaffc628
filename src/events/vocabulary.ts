import type { NamespaceEvents } from './namespaces.js';
import type { PublishedEvents } from './published.js';
import type { LeaseEvents } from './leases.js';
import type { ImageEvents } from './images.js';
import type { ContainerEvents } from './containers.js';
import type { TaskEvents } from './tasks.js';
import type { ContentEvents } from './content.js';
import type { SnapshotEvents } from './snapshots.js';
import type { PodEvents } from './pods.js';
import type { CriContainerEvents } from './cri-containers.js';
import type { ExportEvents } from './export.js';

/** Every event type ledgerd appends, with its current payload shape. */
export interface EventPayloads extends NamespaceEvents, PublishedEvents, LeaseEvents, ImageEvents, ContentEvents, SnapshotEvents, ContainerEvents, TaskEvents, PodEvents, CriContainerEvents, ExportEvents {}

export type EventType = keyof EventPayloads;

/** Current schema version of each payload; bump it together with an upcaster in versioning.ts. */
export const SCHEMA_VERSIONS: Record<EventType, number> = {
  NamespaceCreated: 1,
  NamespaceUpdated: 1,
  NamespaceDeleted: 1,
  EnvelopePublished: 1,
  LeaseCreated: 1,
  LeaseDeleted: 1,
  LeaseResourceAdded: 1,
  LeaseResourceRemoved: 1,
  ImageCreated: 1,
  ImageUpdated: 1,
  ImageDeleted: 1,
  ContainerCreated: 1,
  ContainerUpdated: 1,
  ContainerDeleted: 1,
  TaskCreated: 1,
  TaskStarted: 1,
  TaskExited: 1,
  TaskDeleted: 1,
  TaskExecAdded: 1,
  TaskExecStarted: 1,
  TaskExecDeleted: 1,
  TaskPaused: 1,
  TaskResumed: 1,
  TaskOOM: 1,
  ContentCommitted: 1,
  ContentLabelsUpdated: 1,
  ContentDeleted: 1,
  ContentIngestStarted: 1,
  ContentIngestAborted: 1,
  SnapshotPrepared: 1,
  SnapshotCommitted: 1,
  SnapshotRemoved: 1,
  SnapshotLabelsUpdated: 1,
  PodSandboxCreated: 1,
  PodSandboxStopped: 1,
  PodSandboxRemoved: 1,
  CriContainerCreated: 1,
  CriContainerRemoved: 1,
  ExportPosition: 1,
  CriContainerResourcesUpdated: 1,
};

/**
 * Writes of these types into a namespace bring it into existence, as a write into a namespace's
 * bucket does in containerd: the namespace then shows in Namespaces.List without a Create.
 */
export const IMPLIES_NAMESPACE: ReadonlySet<string> = new Set<EventType>(['LeaseCreated', 'ImageCreated', 'ContentCommitted', 'ContentIngestStarted', 'SnapshotPrepared', 'ContainerCreated']);
