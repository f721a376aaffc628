// containerd's Diff service (diff/apply + diff/walking): apply a layer blob from the content
// store onto a snapshot's mounts, and write the layer between two sets of mounts into content.
import { createHash, randomBytes } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { applyLayer, LayerFormatError, UnsafeEntryError, diffCompression, diffTrees, compressor, MEDIA_TYPE_LAYER, MEDIA_TYPE_LAYER_GZIP, streamHandling, type WhiteoutMode } from '../diff/index.js';
import { withTempMount, type Mount } from '../util/mount/index.js';
import { DigestCounter } from '../diff/decompress.js';
import { failedPrecondition, invalidArgument, isKind, notImplemented } from '../util/errdefs.js';
import type { ContentCommands } from './content.js';
import type { RequestMeta } from './context.js';

export const UNCOMPRESSED_LABEL = 'containerd.io/uncompressed';

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
}

export interface DiffRequest {
  readonly left: readonly Mount[];
  readonly right: readonly Mount[];
  readonly mediaType: string;
  readonly ref: string;
  readonly labels: Record<string, string>;
}

/** Where a layer goes: straight into an overlay upperdir or a writable directory, or through a temporary mount. */
type ApplyTarget = { dir: string; whiteouts: WhiteoutMode; parents?: string[] } | { mounts: readonly Mount[] };

/**
 * containerd's apply_linux.go: one overlay mount → its upperdir, whiteouts converted to overlay
 * ones, lowerdirs as parents; ledgerd also writes a single writable bind mount's source
 * directly (the same directory a temporary bind mount would show); anything else is mounted.
 */
function applyTarget(mounts: readonly Mount[]): ApplyTarget {
  if (mounts.length === 1) {
    const [m] = mounts as [Mount];
    const option = (prefix: string) => m.options.find((o) => o.startsWith(prefix))?.slice(prefix.length);
    const upper = m.type === 'overlay' ? option('upperdir=') : undefined;
    if (upper) return { dir: upper, whiteouts: 'overlay', parents: option('lowerdir=')?.split(':') ?? [] };
    if (m.type === 'bind' && !m.options.includes('ro')) return { dir: m.source, whiteouts: 'apply' };
  }
  return { mounts };
}

/**
 * Runs `apply` on `dir`, which is empty (a snapshot prepared for extraction); a failure empties it
 * again, so a refused or corrupt layer leaves nothing half-applied.
 */
async function emptiedOnFailure<T>(dir: string, apply: () => Promise<T>): Promise<T> {
  try {
    return await apply();
  } catch (err) {
    const prefix = Buffer.from(`${dir}/`);
    for (const name of await readdir(dir, { encoding: 'buffer' })) await rm(Buffer.concat([prefix, name]), { recursive: true, force: true });
    throw err;
  }
}

async function digestOf(chunks: AsyncIterable<Buffer>): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of chunks) hash.update(chunk);
  return `sha256:${hash.digest('hex')}`;
}

const blobMismatch = (digest: string, actual: string) => failedPrecondition(`layer ${digest}: its bytes hash to ${actual}`);

export class DiffCommands {
  constructor(private readonly content: ContentCommands) {}

  /**
   * Applies the blob `layer` names onto `mounts` and returns the uncompressed layer's descriptor
   * (containerd's diffID). The blob's bytes are checked against its digest and size: a mismatch,
   * like a refused entry, fails the call and leaves an empty target (an overlay upperdir, a first
   * layer) empty; a non-empty target is only spared the corrupt blob, checked before it is
   * touched (after other failures the caller discards the snapshot, as containerd's unpacker).
   */
  async apply(namespace: string, layer: Descriptor, mounts: readonly Mount[], signal?: AbortSignal): Promise<Descriptor> {
    if (!layer.digest) throw invalidArgument('diff.digest must be set');
    if (mounts.length === 0) throw invalidArgument('mounts must not be empty');
    try {
      streamHandling(layer.mediaType);
    } catch (err) {
      throw notImplemented((err as Error).message);
    }
    const { size } = this.content.info(namespace, layer.digest); // NotFound before anything is mounted
    if (layer.size > 0 && size !== layer.size) throw failedPrecondition(`layer ${layer.digest}: ${size} bytes, the descriptor says ${layer.size}`);
    const target = applyTarget(mounts);
    const run = async (dir: string, whiteouts: WhiteoutMode, parents?: string[]) => {
      const extract = async () => {
        const blob = Readable.from(this.content.read(namespace, layer.digest, 0, size));
        const result = await applyLayer(blob, dir, { mediaType: layer.mediaType, whiteouts, parents, signal });
        if (result.compressed.digest !== layer.digest) throw blobMismatch(layer.digest, result.compressed.digest);
        return result;
      };
      if ((await readdir(dir)).length === 0) return emptiedOnFailure(dir, extract);
      // a tree that was not empty cannot be put back: the blob's bytes are checked before it is touched
      const actual = await digestOf(this.content.read(namespace, layer.digest, 0, size));
      if (actual !== layer.digest) throw blobMismatch(layer.digest, actual);
      return extract();
    };
    let result;
    try {
      result = 'dir' in target ? await run(target.dir, target.whiteouts, target.parents) : await withTempMount(target.mounts, (root) => run(root, 'apply'));
    } catch (err) {
      if (err instanceof UnsafeEntryError || err instanceof LayerFormatError) throw invalidArgument(`layer ${layer.digest}: ${err.message}`);
      throw err;
    }
    return { mediaType: MEDIA_TYPE_LAYER, digest: result.digest, size: result.size };
  }

  /**
   * The walking differ: the changes from `left` to `right` as a tar (gzip by default), written to
   * content under `ref` and labelled with its uncompressed digest.
   */
  async diff(namespace: string, request: DiffRequest, lease: string | undefined, meta: RequestMeta): Promise<Descriptor> {
    const mediaType = request.mediaType || MEDIA_TYPE_LAYER_GZIP;
    const compression = diffCompression(mediaType);
    if (!compression) throw notImplemented(`unsupported diff media type: ${mediaType}`);
    if (request.left.length === 0 && request.right.length === 0) throw invalidArgument('left and right mounts must not both be empty');
    const ref = request.ref || `${process.hrtime.bigint()}-${randomBytes(3).toString('base64url')}`;
    const readonly = request.right.map((m) => ({ ...m, options: m.options.includes('ro') ? m.options : [...m.options, 'ro'] }));
    return withTempMount(request.left, (lower) =>
      withTempMount(readonly, async (upper) => {
        const writer = await this.content.writer(namespace, { ref }, lease, meta);
        const uncompressed = new DigestCounter();
        const gzip = compressor(compression);
        let digest: string;
        try {
          let tar: Readable = diffTrees(lower, upper).pipe(uncompressed);
          if (gzip) tar = tar.pipe(gzip) as unknown as Readable;
          await writer.truncate(0);
          for await (const chunk of tar) await writer.write(chunk as Buffer);
          const labels = { ...request.labels, ...(gzip ? { [UNCOMPRESSED_LABEL]: uncompressed.digest() } : {}) };
          digest = await writer.commit(0, undefined, labels, meta).catch((err) => (isKind(err, 'already exists') ? writer.digest() : Promise.reject(err)));
        } catch (err) {
          await writer.close();
          // an upload under the caller's ref stays for them to resume or abort, as in containerd
          if (!request.ref) await this.content.abort(namespace, ref, lease, meta).catch(() => undefined);
          throw err;
        }
        // a blob that already existed without the label gets it (containerd's walking differ)
        if (gzip && !(UNCOMPRESSED_LABEL in this.content.info(namespace, digest).labels)) {
          const label = { [UNCOMPRESSED_LABEL]: uncompressed.digest() };
          await this.content.update(namespace, { digest, labels: label }, [`labels.${UNCOMPRESSED_LABEL}`], meta);
        }
        return { mediaType, digest, size: this.content.info(namespace, digest).size };
      }),
    );
  }
}
