import { createHash, type Hash } from 'node:crypto';
import { chmod, mkdir, open, rename, rm, stat, unlink, utimes, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { nowNs } from '../log/index.js';
import { failedPrecondition } from '../util/errdefs.js';
import { CANONICAL } from '../util/digest.js';
import { formatTime, isExists, isNotFound, syncDir, writeToCompletion } from './files.js';
import { readIngest, type IngestStatus } from './ingest.js';
import type { Layout } from './layout.js';

export interface CommitResult {
  readonly digest: string;
  readonly size: number;
  /** The blob was on disk already: the ingest was dropped and nothing renamed. */
  readonly alreadyStored: boolean;
}

/**
 * One upload into the backend (content/local/writer.go): appends to `data`, hashing as it goes,
 * and commits by verifying size and digest, fsyncing, and renaming `data` to its blob path. The
 * caller holds the ref's lock; the writer releases it when it commits or closes.
 */
export class IngestWriter {
  private handle: FileHandle | undefined;

  private constructor(
    private readonly layout: Layout,
    readonly backendRef: string,
    private readonly release: () => void,
    handle: FileHandle,
    private hash: Hash,
    private offset: number,
    private readonly total: number,
    private readonly startedAt: bigint,
    private updatedAt: bigint,
  ) {
    this.handle = handle;
  }

  /**
   * Resumes the ingest of `backendRef` if its directory is intact (same ref, no conflicting
   * total: the bytes so far are re-hashed), else starts it afresh.
   */
  static async open(layout: Layout, backendRef: string, total: number, release: () => void): Promise<IngestWriter> {
    const dir = layout.ingestDir(backendRef);
    await mkdir(layout.ingestsDir, { recursive: true });
    let resumed: IngestStatus | undefined;
    try {
      await mkdir(dir);
    } catch (err) {
      if (!isExists(err)) throw err;
      resumed = await readIngest(dir).catch(() => undefined);
      if (resumed && (resumed.backendRef !== backendRef || (total > 0 && resumed.total > 0 && total !== resumed.total))) resumed = undefined;
    }
    const hash = createHash(CANONICAL);
    const data = join(dir, 'data');
    if (resumed) {
      const handle = await open(data, 'r+');
      const offset = await rehash(handle, hash).catch(async (err: unknown) => {
        await handle.close();
        throw err;
      });
      return new IngestWriter(layout, backendRef, release, handle, hash, offset, resumed.total, resumed.startedAt, resumed.updatedAt);
    }
    const startedAt = nowNs();
    await writeToCompletion(join(dir, 'ref'), backendRef);
    await writeToCompletion(join(dir, 'startedat'), formatTime(startedAt));
    await writeToCompletion(join(dir, 'updatedat'), formatTime(startedAt));
    if (total > 0) await writeToCompletion(join(dir, 'total'), String(total));
    else await unlink(join(dir, 'total')).catch((err) => (isNotFound(err) ? undefined : Promise.reject(err)));
    const handle = await open(data, 'w', 0o666);
    return new IngestWriter(layout, backendRef, release, handle, hash, 0, total > 0 ? total : 0, startedAt, startedAt);
  }

  status(): IngestStatus {
    return { backendRef: this.backendRef, offset: this.offset, total: this.total, startedAt: this.startedAt, updatedAt: this.updatedAt };
  }

  /** Digest of the bytes so far. */
  digest(): string {
    return `${CANONICAL}:${this.hash.copy().digest('hex')}`;
  }

  /** Appends all of `data`; returns the number of bytes written. */
  async write(data: Uint8Array): Promise<number> {
    const handle = this.open();
    let written = 0;
    while (written < data.length) {
      const { bytesWritten } = await handle.write(data, written, data.length - written, this.offset + written);
      if (bytesWritten === 0) break;
      written += bytesWritten;
    }
    this.hash.update(data.subarray(0, written));
    this.offset += written;
    this.updatedAt = nowNs();
    return written;
  }

  /** Starts over: only truncation to 0 is supported, as in containerd. */
  async truncate(size: number): Promise<void> {
    if (size !== 0) throw new Error('Truncate: unsupported size');
    await this.open().truncate(0);
    this.hash = createHash(CANONICAL);
    this.offset = 0;
  }

  /**
   * Verifies and stores the blob: fsync `data`, check size (when `size` > 0) and digest (when
   * `expected` is set), make it read-only, rename it to blobs/<alg>/<hex>, fsync that directory,
   * remove the ingest directory. On a failed check nothing is stored and the ingest stays for a
   * later resume or abort. The lock is released in every case.
   */
  async commit(size: number, expected: string | undefined): Promise<CommitResult> {
    const handle = this.handle;
    this.handle = undefined;
    try {
      if (!handle) throw failedPrecondition('cannot commit on closed writer');
      let written: number;
      try {
        await handle.sync();
        written = Number((await handle.stat()).size);
      } finally {
        await handle.close();
      }
      if (size > 0 && size !== written) throw failedPrecondition(`unexpected commit size ${written}, expected ${size}`);
      const digest = this.digest();
      if (expected && expected !== digest) throw failedPrecondition(`unexpected commit digest ${digest}, expected ${expected}`);

      const dir = this.layout.ingestDir(this.backendRef);
      const target = this.layout.blobPath(digest);
      await ensureDir(dirname(target));
      if (await exists(target)) {
        await rm(dir, { recursive: true, force: true });
        return { digest, size: written, alreadyStored: true };
      }
      const data = join(dir, 'data');
      const now = new Date();
      await utimes(data, now, now);
      await chmodReadOnly(data);
      await rename(data, target);
      await syncDir(dirname(target));
      await rm(dir, { recursive: true, force: true });
      return { digest, size: written, alreadyStored: false };
    } finally {
      this.release();
    }
  }

  /** Leaves the ingest on disk for a later resume and releases the lock. Idempotent. */
  async close(): Promise<void> {
    const handle = this.handle;
    if (!handle) return;
    this.handle = undefined;
    try {
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await writeToCompletion(join(this.layout.ingestDir(this.backendRef), 'updatedat'), formatTime(this.updatedAt)).catch(() => undefined);
    } finally {
      this.release();
    }
  }

  get closed(): boolean {
    return this.handle === undefined;
  }

  private open(): FileHandle {
    if (!this.handle) throw failedPrecondition('writer is closed');
    return this.handle;
  }
}

async function rehash(handle: FileHandle, hash: Hash): Promise<number> {
  const buffer = Buffer.allocUnsafe(1 << 20);
  let offset = 0;
  for (;;) {
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
    if (bytesRead === 0) return offset;
    hash.update(buffer.subarray(0, bytesRead));
    offset += bytesRead;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

/** mkdir -p that fsyncs the parent of every directory it creates, so the new entries are durable. */
async function ensureDir(path: string): Promise<void> {
  const first = await mkdir(path, { recursive: true });
  if (first === undefined) return;
  for (let dir = path; ; dir = dirname(dir)) {
    await syncDir(dirname(dir));
    if (dir === first) break;
  }
}

/** The creation mode without write and execute bits (perm &^ 0333), as containerd leaves blobs. */
async function chmodReadOnly(path: string): Promise<void> {
  const { mode } = await stat(path);
  await chmod(path, mode & 0o777 & ~0o333);
}
