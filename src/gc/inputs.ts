import type { GcInputs } from './reference-graph.js';
import {
  blobsIn,
  containersIn,
  contentProjection,
  containersProjection,
  imagesIn,
  imagesProjection,
  ingestsIn,
  leasesIn,
  leasesProjection,
  snapshotsIn,
  snapshotsProjection,
  type ProjectionSet,
  type SnapshotsState,
} from '../projections/index.js';

/** The read models the collector marks from: every kind of object that refers to another or is referred to. */
export const gcReadModels = (projections: ProjectionSet) =>
  projections.addAll({ leases: leasesProjection, images: imagesProjection, content: contentProjection, snapshots: snapshotsProjection, containers: containersProjection });

export type GcReadModels = ReturnType<typeof gcReadModels>;

/** Namespaces in which a snapshotter holds at least one snapshot. */
const namespacesWithSnapshots = (state: SnapshotsState): string[] =>
  Object.keys(state.live).filter((ns) => Object.values(state.live[ns]!).some((tree) => Object.keys(tree).length > 0));

/** The read models' current state, shaped for the collector's mark and sweep. */
export function gcInputs(models: GcReadModels): GcInputs {
  const { leases, images, content, snapshots, containers } = models;
  return {
    namespaces: () =>
      [
        ...new Set([
          ...Object.keys(leases.state.live),
          ...Object.keys(images.state.live),
          ...Object.keys(content.state.blobs),
          ...Object.keys(content.state.ingests),
          ...namespacesWithSnapshots(snapshots.state),
          ...Object.keys(containers.state.live),
        ]),
      ].sort(),
    leases: (ns) => leasesIn(leases.state, ns).map((l) => ({ id: l.id, labels: l.labels, resources: Object.values(l.resources) })),
    images: (ns) => imagesIn(images.state, ns).map((i) => ({ name: i.name, targetDigest: i.target.digest, labels: i.labels })),
    content: (ns) => blobsIn(content.state, ns),
    ingests: (ns) => ingestsIn(content.state, ns),
    snapshots: (ns) =>
      Object.keys(snapshots.state.live[ns] ?? {})
        .sort()
        .flatMap((sn) => snapshotsIn(snapshots.state, ns, sn).map((s) => ({ snapshotter: sn, key: s.key, parent: s.parent, labels: s.labels }))),
    containers: (ns) => containersIn(containers.state, ns),
  };
}
