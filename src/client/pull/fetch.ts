// Registry blob -> content store, as containerd's fetch handler does it (remotes/handlers.go
// fetch + docker handler): one Content.Write per descriptor under the ref MakeRefKey names;
// what the namespace has is skipped, a partial ingest is resumed from its offset; the blob is
// committed with the labels the pull derives for it (distribution source, children to hold).
import type { Descriptor } from '../image/descriptor.js';
import { appendDistributionSource, DISTRIBUTION_SOURCE_PREFIX, refKey } from '../image/media-types.js';
import { ContentWriter } from '../content/writer.js';
import { DigestMismatchError, downloadBlob, sourceHost, type Registry } from '../registry/index.js';
import { grpcCode, readBlob, SERVICES, type Rpc } from '../rpc.js';
import { Code } from '../../util/grpc-codes.js';
import type { PullListener } from './events.js';
import { Limiter } from './limiter.js';

export interface FetchOptions {
  /** Keep the bytes and return them (manifests, indexes, configs). */
  readonly keep?: boolean;
  /** Labels that depend on the bytes (containerd.io/gc.ref.content.* for a manifest's children). */
  readonly labelsFor?: (bytes: Buffer) => Record<string, string>;
}

const EMPTY_SHA256 = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

export class BlobFetcher {
  private readonly inProgress = new Map<string, Promise<Buffer | undefined>>();
  private readonly limiter: Limiter;
  private readonly sourceLabel: string;

  constructor(
    private readonly rpc: Rpc,
    private readonly registry: Registry,
    concurrency: number,
    private readonly listener: PullListener = () => undefined,
    private readonly signal?: AbortSignal,
  ) {
    this.limiter = new Limiter(concurrency);
    this.sourceLabel = `${DISTRIBUTION_SOURCE_PREFIX}${sourceHost(registry.ref.domain)}`;
  }

  /** Fetches a descriptor once however often it is asked for; resolves when it is committed. */
  fetch(desc: Descriptor, options: FetchOptions = {}): Promise<Buffer | undefined> {
    const key = `${desc.digest}${options.keep ? ' keep' : ''}`;
    let fetched = this.inProgress.get(key);
    if (!fetched) {
      this.listener({ type: 'blob', key: refKey(desc), desc, status: 'waiting', offset: 0 });
      fetched = this.limiter.run(() => this.fetchOnce(desc, options));
      this.inProgress.set(key, fetched);
    }
    return fetched;
  }

  /** Resolves once every fetch asked for has ended (after a failure: before the lease goes). */
  async settled(): Promise<void> {
    await Promise.allSettled(this.inProgress.values());
  }

  private async fetchOnce(desc: Descriptor, options: FetchOptions, retried = false): Promise<Buffer | undefined> {
    this.signal?.throwIfAborted();
    if (desc.size === 0 && desc.digest !== EMPTY_SHA256) throw new Error(`${desc.digest}: a descriptor of size 0 (refusing, as containerd does)`);
    const ref = refKey(desc);
    const writer = await ContentWriter.open(this.rpc, { ref, total: desc.size, expected: desc.digest }, this.signal);
    if (writer === 'exists') {
      const bytes = options.keep || options.labelsFor ? await readBlob(this.rpc, desc.digest) : undefined;
      await this.labelExisting(desc, bytes && options.labelsFor ? options.labelsFor(bytes) : {});
      this.listener({ type: 'blob', key: ref, desc, status: 'exists', offset: desc.size });
      return options.keep ? bytes : undefined;
    }
    const keep = options.keep || !!options.labelsFor;
    // what is kept must be whole: a partial ingest of a manifest is started over (they are small)
    if (writer.startedAt > desc.size || (keep && writer.startedAt > 0)) writer.restart();

    const chunks: Buffer[] = [];
    let offset = writer.startedAt;
    try {
      this.listener({ type: 'blob', key: ref, desc, status: 'downloading', offset });
      if (offset < desc.size) {
        const body = downloadBlob(this.registry, desc, {
          offset,
          signal: this.signal,
          onRetry: (at, reason) => this.listener({ type: 'retry', key: ref, offset: at, reason: reason.message }),
        });
        for await (const chunk of body) {
          await writer.write(chunk);
          if (keep) chunks.push(chunk);
          offset += chunk.length;
          this.listener({ type: 'blob', key: ref, desc, status: 'downloading', offset });
        }
      }
      const bytes = keep ? Buffer.concat(chunks) : undefined;
      const labels = { [this.sourceLabel]: this.registry.ref.repository, ...(bytes && options.labelsFor ? options.labelsFor(bytes) : {}) };
      await writer.commit(labels);
      this.listener({ type: 'blob', key: ref, desc, status: 'done', offset: desc.size });
      return options.keep ? bytes : undefined;
    } catch (err) {
      // bytes that arrived stay in the ingest, for the next pull to resume from
      if (grpcCode(err) === undefined && !(err instanceof DigestMismatchError)) await writer.flush().catch(() => undefined);
      writer.cancel();
      if (err instanceof DigestMismatchError) {
        await this.abort(ref);
        throw err;
      }
      if (grpcCode(err) === Code.AlreadyExists) return this.fetchOnce(desc, options, retried);
      // a resumed ingest whose earlier bytes were not this blob's: start it over, once
      if (grpcCode(err) === Code.FailedPrecondition && writer.startedAt > 0 && !retried) {
        await this.abort(ref);
        return this.fetchOnce(desc, options, true);
      }
      if (grpcCode(err) === Code.FailedPrecondition) await this.abort(ref);
      throw err;
    }
  }

  private async abort(ref: string): Promise<void> {
    await this.rpc.unary(SERVICES.content, 'Abort', { ref }).catch(() => undefined);
  }

  /** A blob the namespace had: add this repository to its source label and the derived labels. */
  private async labelExisting(desc: Descriptor, derived: Record<string, string>): Promise<void> {
    const { info } = await this.rpc.unary<{ info: { labels: Record<string, string> } }>(SERVICES.content, 'Info', { digest: desc.digest });
    const current = info.labels ?? {};
    const wanted: Record<string, string> = { ...derived, [this.sourceLabel]: appendDistributionSource(current[this.sourceLabel], this.registry.ref.repository) };
    const changed = Object.keys(wanted).filter((k) => current[k] !== wanted[k]);
    if (changed.length === 0) return;
    await this.rpc.unary(SERVICES.content, 'Update', {
      info: { digest: desc.digest, labels: wanted },
      update_mask: { paths: changed.map((k) => `labels.${k}`) },
    });
  }
}
