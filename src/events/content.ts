/**
 * Content aggregate, per namespace (containerd's metadata view over the shared blob store):
 *
 *   stream "content/<digest>"   a blob's life in one namespace: committed, relabelled, deleted
 *   stream "ingests/<ref>"      an upload in progress under a client ref
 *
 * Where ingest state lives. The bytes of an upload are scratch and stay in the backend's ingest
 * directory (`ingest/<sha256(backendRef)>/{ref,data,startedat,updatedat,total}`): offset, digest
 * so far and timestamps are read from there, never logged, so a 1 GiB upload is not a million
 * events. What containerd keeps in its metadata for an ingest is a fact and goes in the log:
 * that the ref exists in this namespace, its backend ref, the lease that holds it (or when it
 * expires without one: the GC keeps it until then) and, for a "shared" ingest, the digest it will
 * link without bytes (it also pins that blob against GC). One ContentIngestStarted when a writer
 * first opens a ref (or opens it again under another lease); the ingest ends with the
 * ContentCommitted that names its ref, or a ContentIngestAborted.
 *
 * Lease tracking: a write made under a `containerd-lease` header carries the lease id in its own
 * event (`lease`): ContentIngestStarted holds `ingests/<ref>`, ContentCommitted holds
 * `content/<digest>` and releases `ingests/<ref>`; ContentDeleted and ContentIngestAborted
 * release what they name. The leases read model picks them up from there. (A Write refused with
 * AlreadyExists under a lease appends LeaseResourceAdded itself: no content event happens then.)
 */
export const contentStream = (digest: string) => `content/${digest}`;
export const ingestStream = (ref: string) => `ingests/${ref}`;

export interface ContentCommitted {
  readonly digest: string;
  readonly size: number;
  readonly labels: Record<string, string>;
  /** The client ref of the ingest this commit ends. */
  readonly ref?: string;
  /** The lease of the writing call, if any. */
  readonly lease?: string;
}

export interface ContentLabelsUpdated {
  readonly digest: string;
  /** The blob's complete label set after the update. */
  readonly labels: Record<string, string>;
}

export interface ContentDeleted {
  readonly digest: string;
  /** "gc" when the collector removed it. */
  readonly reason?: string;
  /** The lease of the deleting call, if any: it no longer holds the blob. */
  readonly lease?: string;
}

export interface ContentIngestStarted {
  readonly ref: string;
  /** Key of the backend ingest directory: "<namespace>/<seq>/<ref>" as containerd builds it. */
  readonly backendRef: string;
  /** Declared size, if the writer gave one. */
  readonly total?: number;
  /** Shared policy: the digest (already stored for another namespace) this ingest links without bytes. */
  readonly shared?: string;
  readonly lease?: string;
  /** Without a lease: nanoseconds since the epoch after which the GC may remove the ingest. */
  readonly expiresAt?: bigint;
}

export interface ContentIngestAborted {
  readonly ref: string;
  /** Why, when not a client's Abort (e.g. "content already exists", "gc"). */
  readonly reason?: string;
  /** The lease of the aborting call, if any: it no longer holds `ingests/<ref>`. */
  readonly lease?: string;
}

export interface ContentEvents {
  ContentCommitted: ContentCommitted;
  ContentLabelsUpdated: ContentLabelsUpdated;
  ContentDeleted: ContentDeleted;
  ContentIngestStarted: ContentIngestStarted;
  ContentIngestAborted: ContentIngestAborted;
}
