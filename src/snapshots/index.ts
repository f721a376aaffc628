export type { Snapshotter, SnapshotInfo, SnapshotKind, SnapshotUsage, WriteOptions } from './snapshotter.js';
export { IdTakenError, type SnapshotBackend, type CreateKind } from './backend.js';
export { OverlayBackend, checkOverlay } from './overlay.js';
export { NativeBackend } from './native.js';
export { diskUsage } from './disk-usage.js';
