import type { ContentStore, IngestWriter } from '../content/index.js';
import { EMPTY_DIGEST } from '../content/index.js';
import { failedPrecondition, notFound } from '../util/errdefs.js';
import { validateLabels, type Labels } from '../util/labels.js';
import type { RequestMeta } from './context.js';

/** An upload as a writer reports it (containerd's content.Status). */
export interface WriterStatus {
  readonly ref: string;
  readonly offset: number;
  readonly total: number;
  /** Nanoseconds since the epoch. */
  readonly startedAt: bigint;
  readonly updatedAt: bigint;
  /** Set only for a shared ingest: the digest it links. */
  readonly expected?: string;
}

/** A blob another namespace already stored, which this ingest links without bytes. */
export interface SharedBlob {
  readonly digest: string;
  readonly size: number;
}

export interface VerifiedBlob {
  readonly digest: string;
  readonly size: number;
}

/** What a writer needs from its ContentCommands. */
export interface CommitSink {
  /** Runs a commit (rename, then the fact) so that the blob sweep never sees a blob between the two. */
  guard<T>(commit: () => Promise<T>): Promise<T>;
  /** Records the commit in the log. */
  record(blob: VerifiedBlob, labels: Labels, meta: RequestMeta): Promise<void>;
}

/**
 * One Write session of a namespace on one ref (containerd's namespacedWriter): the backend writer
 * holds the bytes and the ref's lock; a shared ingest has no backend writer until bytes arrive.
 * Commit verifies (backend: fsync, size, digest, rename) and only then records the fact.
 */
export class ContentWriter {
  private readonly opened: bigint;

  constructor(
    readonly namespace: string,
    readonly ref: string,
    private readonly backendRef: string,
    private readonly store: ContentStore,
    private backend: IngestWriter | undefined,
    private shared: SharedBlob | undefined,
    private readonly sink: CommitSink,
    now: bigint,
  ) {
    this.opened = now;
  }

  status(): WriterStatus {
    if (this.backend) {
      const { offset, total, startedAt, updatedAt } = this.backend.status();
      return { ref: this.ref, offset, total, startedAt, updatedAt };
    }
    const size = this.shared?.size ?? 0;
    return { ref: this.ref, offset: size, total: size, startedAt: this.opened, updatedAt: this.opened, expected: this.shared?.digest };
  }

  /** Digest of the bytes so far (of the linked blob for a shared ingest). */
  digest(): string {
    return this.backend?.digest() ?? this.shared?.digest ?? EMPTY_DIGEST;
  }

  async write(data: Uint8Array): Promise<number> {
    if (data.length === 0) return 0;
    const backend = this.backend ?? (await this.unshare(this.shared?.size ?? 0));
    return backend.write(data);
  }

  /** Only to 0: the client restarts the upload. */
  async truncate(size: number): Promise<void> {
    if (this.backend) return this.backend.truncate(size);
    await this.unshare(size);
  }

  /**
   * containerd's commit rules: labels valid; a non-zero `total` must equal the bytes written;
   * a set `expected` must equal their digest. The committed digest is the computed one.
   */
  async commit(total: number, expected: string | undefined, labels: Labels | undefined, meta: RequestMeta): Promise<string> {
    try {
      validateLabels(labels, 'info.Labels');
    } catch (err) {
      await this.close();
      throw err;
    }
    return this.sink.guard(async () => {
      let blob: VerifiedBlob;
      if (!this.backend) {
        const shared = this.shared!;
        if (total !== 0 && total !== shared.size) throw failedPrecondition(`"${this.ref}" failed size validation: ${shared.size} != ${total}`);
        if (expected && expected !== shared.digest) throw failedPrecondition(`"${this.ref}" unexpected digest`);
        if (!(await this.store.info(shared.digest))) throw notFound(`content ${shared.digest}`);
        blob = shared;
      } else {
        const written = this.backend.status().offset;
        if (total !== 0 && total !== written) {
          await this.close();
          throw failedPrecondition(`"${this.ref}" failed size validation: ${written} != ${total}`);
        }
        const backend = this.backend;
        this.backend = undefined;
        blob = await backend.commit(written, expected || undefined);
        this.shared = blob;
      }
      await this.sink.record(blob, labels ?? {}, meta);
      return blob.digest;
    });
  }

  /** Ends the session, leaving the ingest for a later resume. */
  async close(): Promise<void> {
    const backend = this.backend;
    this.backend = undefined;
    await backend?.close();
  }

  /** Turns a shared ingest into a real one: the linked blob's first `size` bytes are copied in. */
  private async unshare(size: number): Promise<IngestWriter> {
    const shared = this.shared;
    const backend = await this.store.writer(this.backendRef, 0);
    try {
      if (backend.status().offset > 0) await backend.truncate(0);
      if (shared && size > 0) for await (const chunk of this.store.read(shared.digest, 0, size)) await backend.write(chunk);
    } catch (err) {
      await backend.close();
      throw err;
    }
    this.backend = backend;
    this.shared = undefined;
    return backend;
  }
}
