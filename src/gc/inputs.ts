import type { GcInputs } from './reference-graph.js';
import {
  contentProjection,
  containersProjection,
  imagesProjection,
  leasesProjection,
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

/**
 * One namespace's objects of a read model, in the model's own order (the log's, so still
 * deterministic): the mark needs no sorted lists, and a collection follows every `ctr run --rm`.
 */
const valuesIn = <T>(byNamespace: Record<string, Record<string, T>>, namespace: string): T[] => Object.values(byNamespace[namespace] ?? {});

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
    leases: (ns) => valuesIn(leases.state.live, ns).map((l) => ({ id: l.id, labels: l.labels, resources: Object.values(l.resources) })),
    images: (ns) => valuesIn(images.state.live, ns).map((i) => ({ name: i.name, targetDigest: i.target.digest, labels: i.labels })),
    content: (ns) => valuesIn(content.state.blobs, ns),
    ingests: (ns) => valuesIn(content.state.ingests, ns),
    snapshots: (ns) =>
      Object.entries(snapshots.state.live[ns] ?? {}).flatMap(([sn, tree]) =>
        Object.values(tree).map((s) => ({ snapshotter: sn, key: s.key, parent: s.parent, labels: s.labels })),
      ),
    containers: (ns) => valuesIn(containers.state.live, ns),
  };
}
