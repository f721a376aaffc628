import type { GcIngest, GcInputs, GcSnapshot } from './reference-graph.js';
import { imagesIn, leasesIn, type ImagesState, type LeasesState } from '../projections/index.js';

/** Where each kind of object comes from; kinds whose read model is not loaded read as empty. */
export interface GcSources {
  leases?: () => LeasesState;
  images?: () => ImagesState;
  content?: {
    namespaces(): string[];
    blobs(namespace: string): { digest: string; labels: Record<string, string> }[];
    ingests(namespace: string): GcIngest[];
  };
  snapshots?: {
    namespaces(): string[];
    all(namespace: string): GcSnapshot[];
  };
  containers?: {
    namespaces(): string[];
    all(namespace: string): { id: string; snapshotter: string; snapshotKey: string; labels: Record<string, string> }[];
  };
}

/** The read models' current state, shaped for the collector's mark and sweep. */
export function gcInputs(sources: GcSources): GcInputs {
  return {
    namespaces: () =>
      [
        ...new Set([
          ...Object.keys(sources.leases?.().live ?? {}),
          ...Object.keys(sources.images?.().live ?? {}),
          ...(sources.content?.namespaces() ?? []),
          ...(sources.snapshots?.namespaces() ?? []),
          ...(sources.containers?.namespaces() ?? []),
        ]),
      ].sort(),
    leases: (ns) =>
      sources.leases ? leasesIn(sources.leases(), ns).map((l) => ({ id: l.id, labels: l.labels, resources: Object.values(l.resources) })) : [],
    images: (ns) =>
      sources.images ? imagesIn(sources.images(), ns).map((i) => ({ name: i.name, targetDigest: i.target.digest, labels: i.labels })) : [],
    content: (ns) => sources.content?.blobs(ns) ?? [],
    ingests: (ns) => sources.content?.ingests(ns) ?? [],
    snapshots: (ns) => sources.snapshots?.all(ns) ?? [],
    containers: (ns) => sources.containers?.all(ns) ?? [],
  };
}
