export type { Projection } from './projection.js';
export { ProjectionRunner, type RunnerOptions, type StartReport } from './runner.js';
export { ProjectionSet } from './projection-set.js';
export { stateAt, statesAt, seqAtTime, type PastState } from './time-travel.js';
export { namespacesProjection, type NamespacesState, type NamespaceView } from './namespaces.js';
export { leasesProjection, leaseOf, leasesIn, resourceKey, type LeasesState, type LeaseView } from './leases.js';
export { imagesProjection, imagesIn, type ImagesState, type ImageView } from './images.js';
export {
  contentProjection,
  blobOf,
  blobsIn,
  blobInAnyNamespace,
  ingestOf,
  ingestsIn,
  type ContentState,
  type BlobView,
  type IngestView,
} from './content.js';
export {
  snapshotsProjection,
  snapshotOf,
  snapshotsIn,
  liveIds,
  type SnapshotsState,
  type SnapshotView,
  type SnapshotTree,
} from './snapshots.js';
export { containersProjection, containerOf, containersIn, type ContainersState, type ContainerView } from './containers.js';
export { tasksProjection, taskOf, tasksIn, type TasksState, type TaskRecord, type ProcessRecord, type RecordedStatus } from './tasks.js';
export { podsProjection, podsIn, podOf, type PodsState, type PodView, type PodState } from './pods.js';
export { criContainersProjection, criContainerState, type CriContainersState, type CriContainerView, type CriContainerState } from './cri-containers.js';
export { versionOf, versionKey, type StreamVersions } from './stream-versions.js';
export { exportPositionsProjection, type ExportPositionsState } from './export-positions.js';
