import { contentStream, ingestStream, leaseStream, newEvent, type ContentIngestStarted, type TypedEvent } from '../events/index.js';
import {
  blobInAnyNamespace,
  blobOf,
  blobsIn,
  ingestOf,
  ingestsIn,
  type BlobView,
  type ContentState,
  type IngestView,
  type ProjectionRunner,
} from '../projections/index.js';
import { digestProblem, isValidDigest, type ContentStore, type IngestWriter } from '../content/index.js';
import { nowNs } from '../log/index.js';
import { alreadyExists, invalidArgument, isKind, notFound } from '../util/errdefs.js';
import { validateLabels, withoutEmptyValues, type Labels } from '../util/labels.js';
import { decideAndAppend, expectedVersion, reasonOf, type CommandContext, type RequestMeta } from './context.js';
import { ContentWriter, type CommitSink, type SharedBlob, type VerifiedBlob, type WriterStatus } from './content-writer.js';
import { SharedLock } from '../util/shared-lock.js';

/**
 * Whether lease `id` exists in `namespace`. When ContentCommands has one, a write under a lease
 * it does not know fails with NotFound "lease does not exist" (containerd's behaviour); without
 * one, any lease id is accepted and recorded.
 */
export type LeaseCheck = (namespace: string, id: string) => boolean;

/** content_sharing_policy of containerd's metadata plugin. */
export type SharingPolicy = 'shared' | 'isolated';

export interface ContentOptions {
  readonly leaseCheck?: LeaseCheck;
  readonly sharing?: SharingPolicy;
}

export interface WriterRequest {
  readonly ref: string;
  /** Declared size; 0 when unknown. */
  readonly total?: number;
  /** Expected digest, when known. */
  readonly expected?: string;
}

export interface BlobUpdate {
  readonly digest: string;
  readonly labels?: Labels;
}

/** Ungarbage-collected ingests without a lease expire after this (containerd: 24 h). */
const INGEST_EXPIRY_NS = 24n * 3600n * 1_000_000_000n;

/** Records after which a blob file may be held by no namespace and no shared ingest. */
const UNREFERENCING: ReadonlySet<string> = new Set(['ContentDeleted', 'ContentIngestAborted', 'ContentCommitted', 'ContentIngestStarted']);

/**
 * The content store as a namespace sees it (containerd's metadata/content.go over
 * content/local): a blob is visible in a namespace only once committed there; the bytes live
 * once, in the shared back end.
 */
export class ContentCommands {
  private readonly sharing: SharingPolicy;
  private readonly blobLock = new SharedLock();
  /**
   * Whether a blob file may have lost its last reference since the blob files were last listed:
   * set at start, by every record that can drop a reference (see UNREFERENCING) and by every
   * commit (a commit whose record fails leaves its renamed file). The collector lists the blob
   * files only then, as containerd walks its content store only after content was removed:
   * otherwise every collection (one after each `ctr run --rm`) stats every blob on the node.
   */
  private blobsMayBeUnreferenced = true;

  constructor(
    private readonly ctx: CommandContext,
    private readonly view: ProjectionRunner<ContentState>,
    private readonly store: ContentStore,
    private readonly options: ContentOptions = {},
  ) {
    this.sharing = options.sharing ?? 'shared';
    ctx.log.committed$.subscribe((records) => {
      if (records.some((record) => UNREFERENCING.has(record.type))) this.blobsMayBeUnreferenced = true;
    });
  }

  /** NotFound `content digest <d>` unless committed in this namespace. */
  info(namespace: string, digest: string): BlobView {
    validDigest(digest);
    const blob = blobOf(this.view.state, namespace, digest);
    if (!blob) throw notFound(`content digest ${digest}`);
    return blob;
  }

  exists(namespace: string, digest: string): boolean {
    return blobOf(this.view.state, namespace, digest) !== undefined;
  }

  list(namespace: string): BlobView[] {
    return blobsIn(this.view.state, namespace);
  }

  /**
   * containerd's rules: paths `labels` (replace all) and `labels.<k>` (take the request's value,
   * "" or absent deletes); no paths replaces all labels. Digest, size and created_at never change.
   */
  async update(namespace: string, update: BlobUpdate, paths: readonly string[], meta: RequestMeta): Promise<BlobView> {
    const { digest } = update;
    validDigest(digest);
    const requested = update.labels ?? {};
    await decideAndAppend(this.ctx, () => {
      const blob = this.info(namespace, digest);
      let labels: Labels = { ...blob.labels };
      if (paths.length === 0) labels = { ...requested };
      for (const path of paths) {
        if (path.startsWith('labels.')) {
          const key = path.slice('labels.'.length);
          labels[key] = requested[key] ?? '';
        } else if (path === 'labels') {
          labels = { ...requested };
        } else {
          throw invalidArgument(`cannot update "${path}" field on content info "${digest}"`);
        }
      }
      validateLabels(labels, 'info.Labels');
      return {
        events: [newEvent('ContentLabelsUpdated', namespace, contentStream(digest), { digest, labels: withoutEmptyValues(labels) }, meta)],
        expected: [expectedVersion(this.ctx, this.view.state, namespace, contentStream(digest))],
        result: undefined,
      };
    });
    return this.info(namespace, digest);
  }

  /**
   * Removes the blob from this namespace only; the bytes stay until the collector finds that no
   * namespace (and no shared ingest) refers to them. Publishes /content/delete.
   */
  async delete(namespace: string, digest: string, lease: string | undefined, meta: RequestMeta): Promise<void> {
    validDigest(digest);
    await decideAndAppend(this.ctx, () => {
      this.info(namespace, digest);
      return {
        events: [newEvent('ContentDeleted', namespace, contentStream(digest), { digest, ...(lease ? { lease } : {}), ...reasonOf(meta) }, meta)],
        expected: [expectedVersion(this.ctx, this.view.state, namespace, contentStream(digest))],
        result: undefined,
      };
    }, { meta });
  }

  /**
   * `size` bytes of a visible blob from `offset` (the caller keeps them within the blob) in one
   * buffer when the blob is small (see ContentStore.readSmall), else undefined: read() streams it.
   */
  readSmall(namespace: string, digest: string, offset: number, size: number): Buffer | undefined {
    return this.store.readSmall(digest, this.info(namespace, digest).size, offset, size);
  }

  /** `size` bytes of a visible blob from `offset` (the caller keeps them within the blob), ≤ 1 MiB a chunk. */
  read(namespace: string, digest: string, offset: number, size: number): AsyncGenerator<Buffer> {
    this.info(namespace, digest);
    return this.store.read(digest, offset, size);
  }

  /** NotFound `reference <ref>` for a ref with no ingest in this namespace. */
  async status(namespace: string, ref: string): Promise<WriterStatus> {
    const ingest = ingestOf(this.view.state, namespace, ref);
    if (!ingest) throw notFound(`reference ${ref}`);
    const status = await this.ingestStatus(ingest);
    if (!status) throw notFound(`ingest ${ingest.backendRef}: no data`);
    return status;
  }

  /** The namespace's uploads in progress; those whose data vanished are skipped, as containerd does. */
  async listStatuses(namespace: string): Promise<WriterStatus[]> {
    const statuses = await Promise.all(ingestsIn(this.view.state, namespace).map((ingest) => this.ingestStatus(ingest)));
    return statuses.filter((s): s is WriterStatus => s !== undefined);
  }

  /** Drops an upload: its bytes first, then the fact. NotFound `reference <ref>`. */
  async abort(namespace: string, ref: string, lease: string | undefined, meta: RequestMeta): Promise<void> {
    await this.ctx.projections.settle();
    const ingest = ingestOf(this.view.state, namespace, ref);
    if (!ingest) throw notFound(`reference ${ref}`);
    await this.store.abort(ingest.backendRef).catch((err) => (isKind(err, 'not found') ? undefined : Promise.reject(err)));
    await this.appendIngestEnd(namespace, ref, { ...(lease ? { lease } : {}), ...reasonOf(meta) }, meta);
  }

  /**
   * Opens a Write session (containerd's metadata Writer): AlreadyExists when `expected` is
   * already committed here (the blob still joins the caller's lease); under the shared policy an
   * `expected` blob stored for another namespace is linked without bytes; otherwise the back end
   * opens or resumes the ingest under the ref's lock (Unavailable while another writer holds it).
   * The ingest is recorded in the log the first time a ref is opened, or when it joins a lease.
   */
  async writer(namespace: string, request: WriterRequest, lease: string | undefined, meta: RequestMeta): Promise<ContentWriter> {
    const { ref } = request;
    if (!ref) throw invalidArgument('ref must not be empty');
    const total = request.total && request.total > 0 ? request.total : 0;
    const expected = request.expected || undefined;
    if (lease !== undefined && this.options.leaseCheck && !this.options.leaseCheck(namespace, lease)) throw notFound('lease does not exist');
    await this.ctx.projections.settle();

    let shared: SharedBlob | undefined;
    if (expected) {
      if (this.exists(namespace, expected)) {
        if (lease) {
          const event = this.leaseContent(namespace, lease, expected, meta);
          await decideAndAppend(this.ctx, () => ({ events: [event], expected: [], result: undefined }));
        }
        throw alreadyExists(`content ${expected}`);
      }
      shared = await this.shareable(expected, total);
    }

    const backendRef = ingestOf(this.view.state, namespace, ref)?.backendRef ?? `${namespace}/1/${ref}`;
    const backend: IngestWriter | undefined = shared ? undefined : await this.store.writer(backendRef, total);
    try {
      await decideAndAppend(this.ctx, () => {
        const existing = ingestOf(this.view.state, namespace, ref);
        if (existing && (lease === undefined || existing.lease === lease) && existing.shared === shared?.digest) {
          return { events: [], expected: [], result: undefined };
        }
        const payload: ContentIngestStarted = {
          ref,
          backendRef,
          ...(total > 0 ? { total } : {}),
          ...(shared ? { shared: shared.digest } : {}),
          ...(lease ? { lease } : { expiresAt: nowNs() + INGEST_EXPIRY_NS }),
        };
        return {
          events: [newEvent('ContentIngestStarted', namespace, ingestStream(ref), payload, meta)],
          expected: [expectedVersion(this.ctx, this.view.state, namespace, ingestStream(ref))],
          result: undefined,
        };
      });
    } catch (err) {
      await backend?.close();
      throw err;
    }
    const sink: CommitSink = {
      guard: (commit) => {
        this.blobsMayBeUnreferenced = true;
        return this.blobLock.runShared(commit);
      },
      record: (blob, labels, commitMeta) => this.recordCommit(namespace, ref, blob, labels, lease, commitMeta),
    };
    return new ContentWriter(namespace, ref, backendRef, this.store, backend, shared, sink, nowNs());
  }

  /**
   * The content half of a collection, after the namespaces' records are swept: deletes the blob
   * files no namespace holds and no shared ingest links. Commits wait meanwhile (and it waits
   * for the ones under way), so a blob renamed into place but not yet recorded is never taken.
   */
  removeUnreferencedBlobs(): Promise<string[]> {
    return this.blobLock.runExclusive(async () => {
      await this.ctx.projections.settle();
      if (!this.blobsMayBeUnreferenced) return [];
      // cleared before the listing: a reference dropped from here on sets it for the next sweep
      this.blobsMayBeUnreferenced = false;
      const { blobs, ingests } = this.view.state;
      const referenced = new Set(Object.values(blobs).flatMap((inNamespace) => Object.keys(inNamespace)));
      for (const inNamespace of Object.values(ingests)) for (const ingest of Object.values(inNamespace)) if (ingest.shared) referenced.add(ingest.shared);
      const removed: string[] = [];
      try {
        for (const blob of await this.store.blobs()) {
          if (referenced.has(blob.digest)) continue;
          await this.store.delete(blob.digest).catch((err) => (isKind(err, 'not found') ? undefined : Promise.reject(err)));
          removed.push(blob.digest);
        }
      } catch (err) {
        this.blobsMayBeUnreferenced = true; // what this sweep left, the next one takes
        throw err;
      }
      return removed;
    });
  }

  /**
   * Reconciliation: upload directories that no namespace's ingest names (a crash between the
   * backend opening an ingest and ContentIngestStarted, or an abort interrupted after the fact).
   */
  async removeOrphanIngests(): Promise<string[]> {
    await this.ctx.projections.settle();
    const known = new Set(Object.values(this.view.state.ingests).flatMap((inNamespace) => Object.values(inNamespace).map((i) => i.backendRef)));
    const removed: string[] = [];
    for (const backendRef of await this.store.ingests()) {
      if (known.has(backendRef) || this.store.isWriting(backendRef)) continue;
      await this.store.abort(backendRef).catch((err) => (isKind(err, 'not found') ? undefined : Promise.reject(err)));
      removed.push(backendRef);
    }
    return removed;
  }

  /** After start-up: what a crash left half-done (uploads and blob files without their facts). */
  async reconcile(): Promise<string[]> {
    const ingests = await this.removeOrphanIngests();
    const unnamed = await this.store.removeUnnamedIngests();
    const blobs = await this.removeUnreferencedBlobs();
    return [...ingests.map((ref) => `upload ${ref}`), ...unnamed.map((dir) => `upload directory ${dir} (no ref)`), ...blobs.map((digest) => `blob ${digest}`)];
  }

  /**
   * The fact of a verified commit: ContentCommitted (which ends the ingest), or, when another
   * writer committed the digest here first, the ingest's end and AlreadyExists.
   */
  private async recordCommit(namespace: string, ref: string, blob: VerifiedBlob, labels: Labels, lease: string | undefined, meta: RequestMeta): Promise<void> {
    const existed = await decideAndAppend(this.ctx, () => {
      if (this.exists(namespace, blob.digest)) {
        const events: TypedEvent[] = [];
        if (ingestOf(this.view.state, namespace, ref)) {
          events.push(newEvent('ContentIngestAborted', namespace, ingestStream(ref), { ref, reason: 'content already exists' }, meta));
        }
        if (lease) events.push(this.leaseContent(namespace, lease, blob.digest, meta));
        return { events, expected: [expectedVersion(this.ctx, this.view.state, namespace, ingestStream(ref))], result: true };
      }
      const payload = { digest: blob.digest, size: blob.size, labels: withoutEmptyValues(labels), ref, ...(lease ? { lease } : {}) };
      return {
        events: [newEvent('ContentCommitted', namespace, contentStream(blob.digest), payload, meta)],
        expected: [expectedVersion(this.ctx, this.view.state, namespace, contentStream(blob.digest))],
        result: false,
      };
    });
    if (existed) throw alreadyExists(`content ${blob.digest}`);
  }

  private async appendIngestEnd(namespace: string, ref: string, extra: { lease?: string; reason?: string }, meta: RequestMeta): Promise<void> {
    await decideAndAppend(this.ctx, () => {
      if (!ingestOf(this.view.state, namespace, ref)) throw notFound(`reference ${ref}`);
      return {
        events: [newEvent('ContentIngestAborted', namespace, ingestStream(ref), { ref, ...extra }, meta)],
        expected: [expectedVersion(this.ctx, this.view.state, namespace, ingestStream(ref))],
        result: undefined,
      };
    }, { meta });
  }

  /** The shared policy: a blob stored for another namespace, of the declared size (if any). */
  private async shareable(digest: string, total: number): Promise<SharedBlob | undefined> {
    if (this.sharing !== 'shared' || !isValidDigest(digest) || !blobInAnyNamespace(this.view.state, digest)) return undefined;
    const stored = await this.store.info(digest);
    if (!stored || (total !== 0 && total !== stored.size)) return undefined;
    return { digest, size: stored.size };
  }

  /** A blob that a write under `lease` found already present joins the lease (containerd's addContentLease). */
  private leaseContent(namespace: string, lease: string, digest: string, meta: RequestMeta): TypedEvent {
    return newEvent('LeaseResourceAdded', namespace, leaseStream(lease), { id: lease, resource: { id: digest, type: 'content' } }, meta);
  }

  private async ingestStatus(ingest: IngestView): Promise<WriterStatus | undefined> {
    try {
      const { offset, total, startedAt, updatedAt } = await this.store.status(ingest.backendRef);
      return { ref: ingest.ref, offset, total, startedAt, updatedAt };
    } catch (err) {
      if (!isKind(err, 'not found')) throw err;
    }
    if (!ingest.shared) return undefined;
    const stored = await this.store.info(ingest.shared);
    if (!stored) return undefined;
    return { ref: ingest.ref, offset: stored.size, total: stored.size, startedAt: ingest.startedAt, updatedAt: ingest.startedAt, expected: ingest.shared };
  }
}

function validDigest(digest: string): void {
  const problem = digestProblem(digest);
  if (problem) throw invalidArgument(`digest "${digest}": ${problem}`);
}
