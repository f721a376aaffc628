import type { ContentIngestStarted } from '../events/index.js';
import type { Projection } from './projection.js';
import { noteVersion, type StreamVersions } from './stream-versions.js';

/** A blob as one namespace sees it (containerd's v1/<ns>/content/blob/<digest>). */
export interface BlobView {
  readonly digest: string;
  readonly size: number;
  readonly labels: Record<string, string>;
  /** Nanoseconds since the epoch. */
  readonly createdAt: bigint;
  readonly updatedAt: bigint;
}

/** An upload in progress (containerd's v1/<ns>/content/ingests/<ref>); its bytes are in the backend. */
export interface IngestView extends ContentIngestStarted {
  readonly startedAt: bigint;
}

export interface ContentState {
  /** namespace -> digest -> blob */
  readonly blobs: Record<string, Record<string, BlobView>>;
  /** namespace -> client ref -> ingest */
  readonly ingests: Record<string, Record<string, IngestView>>;
  /** `${namespace}/${stream}` -> version of that stream, deleted objects included. */
  readonly versions: StreamVersions;
}

export const contentProjection: Projection<ContentState> = {
  name: 'content',
  version: 1,
  initial: () => ({ blobs: {}, ingests: {}, versions: {} }),
  evolve(state, record) {
    const ns = record.namespace;
    switch (record.type) {
      case 'ContentCommitted': {
        const { digest, size, labels, ref } = record.payload;
        (state.blobs[ns] ??= {})[digest] = { digest, size, labels, createdAt: record.time, updatedAt: record.time };
        if (ref !== undefined) endIngest(state, ns, ref);
        break;
      }
      case 'ContentLabelsUpdated': {
        const { digest, labels } = record.payload;
        const blob = state.blobs[ns]?.[digest];
        if (blob) state.blobs[ns]![digest] = { ...blob, labels, updatedAt: record.time };
        break;
      }
      case 'ContentDeleted': {
        const { digest } = record.payload;
        // a namespace's emptied map stays until the namespace goes (see containers.ts)
        if (state.blobs[ns]) delete state.blobs[ns][digest];
        break;
      }
      case 'ContentIngestStarted': {
        const { ref, backendRef, total, shared, lease, expiresAt } = record.payload;
        const existing = state.ingests[ns]?.[ref];
        (state.ingests[ns] ??= {})[ref] = {
          ref,
          backendRef,
          total,
          shared,
          lease,
          // the codec may hand back a bigint as a number
          expiresAt: expiresAt === undefined ? undefined : BigInt(expiresAt),
          startedAt: existing?.startedAt ?? record.time,
        };
        break;
      }
      case 'ContentIngestAborted':
        endIngest(state, ns, record.payload.ref);
        break;
      case 'NamespaceDeleted':
        delete state.blobs[ns];
        delete state.ingests[ns];
        return state;
      default:
        return state;
    }
    noteVersion(state.versions, record);
    return state;
  },
};

function endIngest(state: ContentState, ns: string, ref: string): void {
  if (state.ingests[ns]) delete state.ingests[ns][ref];
}

export function blobOf(state: ContentState, namespace: string, digest: string): BlobView | undefined {
  return state.blobs[namespace]?.[digest];
}

export function blobsIn(state: ContentState, namespace: string): BlobView[] {
  return Object.values(state.blobs[namespace] ?? {}).sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
}

/** Whether any namespace holds the digest (the shared policy links such a blob without bytes). */
export function blobInAnyNamespace(state: ContentState, digest: string): BlobView | undefined {
  for (const blobs of Object.values(state.blobs)) {
    const blob = blobs[digest];
    if (blob) return blob;
  }
  return undefined;
}

export function ingestOf(state: ContentState, namespace: string, ref: string): IngestView | undefined {
  return state.ingests[namespace]?.[ref];
}

export function ingestsIn(state: ContentState, namespace: string): IngestView[] {
  return Object.values(state.ingests[namespace] ?? {}).sort((a, b) => (a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : 0));
}
