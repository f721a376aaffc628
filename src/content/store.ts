import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { LRUCache } from 'lru-cache';
import { notFound } from '../util/errdefs.js';
import { isValidDigest } from '../util/digest.js';
import { isNotFound } from './files.js';
import { listIngests, readIngest, type IngestStatus } from './ingest.js';
import { Layout } from './layout.js';
import { RefLocks } from './locks.js';
import { readRange, readSmall, SMALL_READ } from './reader.js';
import { IngestWriter } from './writer.js';

/** Bytes of small blobs kept in memory at most, whole blobs of at most SMALL_READ each. */
const SMALL_BLOBS_BYTES = 2 << 20;

export interface StoredBlob {
  readonly digest: string;
  readonly size: number;
}

/**
 * The blob store back end (containerd's content/local): one un-namespaced, content-addressed
 * store on disk. It knows nothing of namespaces, labels or the log: those are the commands'
 * business. Every method names the files it touches in Layout's terms.
 */
export class ContentStore {
  readonly layout: Layout;
  private readonly locks = new RefLocks();
  /**
   * Whole small blobs by digest (manifests, indexes, configs: what every `ctr run` reads again).
   * Content is immutable by digest, so an entry stays right until the blob is deleted.
   */
  private readonly smallBlobs = new LRUCache<string, Buffer>({ maxSize: SMALL_BLOBS_BYTES, sizeCalculation: (bytes) => Math.max(bytes.length, 1) });

  private constructor(readonly root: string) {
    this.layout = new Layout(root);
  }

  static async open(root: string): Promise<ContentStore> {
    const store = new ContentStore(root);
    await mkdir(store.layout.ingestsDir, { recursive: true });
    await mkdir(store.layout.blobsDir, { recursive: true });
    return store;
  }

  /**
   * Opens (or resumes) the upload of `backendRef` under its lock: Unavailable when another
   * writer holds the ref after 10 retries.
   */
  async writer(backendRef: string, total: number): Promise<IngestWriter> {
    await this.locks.lock(backendRef);
    try {
      return await IngestWriter.open(this.layout, backendRef, total, () => this.locks.unlock(backendRef));
    } catch (err) {
      this.locks.unlock(backendRef);
      throw err;
    }
  }

  /** Whether a writer currently holds the ref. */
  isWriting(backendRef: string): boolean {
    return this.locks.isLocked(backendRef);
  }

  /** NotFound when the ingest (or its data) is not on disk. */
  status(backendRef: string): Promise<IngestStatus> {
    return readIngest(this.layout.ingestDir(backendRef));
  }

  /** Removes an ingest directory; NotFound when there is none. */
  async abort(backendRef: string): Promise<void> {
    const dir = this.layout.ingestDir(backendRef);
    try {
      await stat(dir);
    } catch (err) {
      if (isNotFound(err)) throw notFound(`ingest ref "${backendRef}"`);
      throw err;
    }
    await rm(dir, { recursive: true, force: true });
  }

  /** The blob on disk, or undefined. Throws InvalidArgument for a digest that does not parse. */
  async info(digest: string): Promise<StoredBlob | undefined> {
    try {
      const stats = await stat(this.layout.blobPath(digest));
      return { digest, size: stats.size };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /**
   * Reads `size` bytes from `offset` (both already within the blob), in chunks of at most 1 MiB.
   * NotFound when the blob is not on disk.
   */
  async *read(digest: string, offset: number, size: number): AsyncGenerator<Buffer> {
    const path = this.layout.blobPath(digest);
    try {
      yield* readRange(path, offset, size);
    } catch (err) {
      if (isNotFound(err)) throw notFound(`content ${digest}`);
      throw err;
    }
  }

  /**
   * `size` bytes from `offset` (both within the blob) of a blob of `blobSize` bytes, at once and
   * without waiting when the blob is small (at most SMALL_READ): its bytes are read whole, once,
   * and kept in memory. Undefined for a larger blob, which read() streams. NotFound when the blob
   * is not on disk. The buffer is shared: callers must not write to it.
   */
  readSmall(digest: string, blobSize: number, offset: number, size: number): Buffer | undefined {
    if (blobSize > SMALL_READ) return undefined;
    let bytes = this.smallBlobs.get(digest);
    if (!bytes) {
      try {
        bytes = readSmall(this.layout.blobPath(digest), 0, blobSize, Buffer.allocUnsafeSlow);
      } catch (err) {
        if (isNotFound(err)) throw notFound(`content ${digest}`);
        throw err;
      }
      if (bytes.length === blobSize) this.smallBlobs.set(digest, bytes);
    }
    return bytes.subarray(offset, offset + size);
  }

  /** Removes a blob file (for the collector and the reconciler); NotFound when it is not there. */
  async delete(digest: string): Promise<void> {
    this.smallBlobs.delete(digest);
    const path = this.layout.blobPath(digest);
    try {
      await stat(path);
    } catch (err) {
      if (isNotFound(err)) throw notFound(`content ${digest}`);
      throw err;
    }
    await rm(path, { force: true });
  }

  /** Every blob on disk, whoever references it (for the reconciler and the collector). */
  async blobs(): Promise<StoredBlob[]> {
    const found: StoredBlob[] = [];
    for (const algorithm of await readdirOrEmpty(this.layout.blobsDir)) {
      const dir = join(this.layout.blobsDir, algorithm);
      for (const hex of await readdirOrEmpty(dir)) {
        const digest = `${algorithm}:${hex}`;
        if (!isValidDigest(digest)) continue;
        const stats = await stat(join(dir, hex)).catch(() => undefined);
        if (stats?.isFile()) found.push({ digest, size: stats.size });
      }
    }
    return found;
  }

  /** Every ingest on disk by backend ref (for the reconciler and the collector). */
  async ingests(): Promise<string[]> {
    return (await listIngests(this.layout)).map((i) => i.backendRef);
  }

  /**
   * For start-up only (no writer runs yet): removes upload directories that name no ref (a crash
   * between making the directory and writing its `ref`), which ingests() cannot list. Returns them.
   */
  async removeUnnamedIngests(): Promise<string[]> {
    const named = new Set((await listIngests(this.layout)).map((i) => i.dir));
    const removed: string[] = [];
    for (const name of await readdirOrEmpty(this.layout.ingestsDir)) {
      const dir = join(this.layout.ingestsDir, name);
      if (named.has(dir)) continue;
      await rm(dir, { recursive: true, force: true });
      removed.push(name);
    }
    return removed;
  }
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
}
