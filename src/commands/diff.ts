// containerd's Diff service (diff/apply + diff/walking): apply a layer blob from the content
// store onto a snapshot's mounts, and write the layer between two sets of mounts into content.
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { applyLayer, LayerFormatError, UnsafeEntryError, diffCompression, diffTrees, compressor, MEDIA_TYPE_LAYER, MEDIA_TYPE_LAYER_GZIP, streamHandling, type WhiteoutMode } from '../diff/index.js';
import { withTempMount, type Mount } from '../mount/index.js';
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

export class DiffCommands {
  /** `content` is looked up per call: the differ loads before the services it uses (as containerd's). */
  constructor(private readonly contentService: () => ContentCommands) {}

  private get content(): ContentCommands {
    return this.contentService();
  }

  /**
   * Applies the blob `layer` names onto `mounts` and returns the uncompressed layer's descriptor
   * (containerd's diffID). The blob's bytes are checked against its digest and size as they are
   * read: a mismatch fails the call (the caller discards the snapshot, as containerd's unpacker).
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
    const target = applyTarget(mounts);
    const run = (dir: string, whiteouts: WhiteoutMode, parents?: string[]) =>
      applyLayer(Readable.from(this.content.read(namespace, layer.digest, 0, size)), dir, { mediaType: layer.mediaType, whiteouts, parents, signal });
    let result;
    try {
      result = 'dir' in target ? await run(target.dir, target.whiteouts, target.parents) : await withTempMount(target.mounts, (root) => run(root, 'apply'));
    } catch (err) {
      if (err instanceof UnsafeEntryError || err instanceof LayerFormatError) throw invalidArgument(`layer ${layer.digest}: ${err.message}`);
      throw err;
    }
    if (result.compressed.digest !== layer.digest) {
      throw failedPrecondition(`layer ${layer.digest}: its bytes hash to ${result.compressed.digest}`);
    }
    if (layer.size > 0 && result.compressed.size !== layer.size) {
      throw failedPrecondition(`layer ${layer.digest}: ${result.compressed.size} bytes, the descriptor says ${layer.size}`);
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
        let tar: Readable = diffTrees(lower, upper).pipe(uncompressed);
        const gzip = compressor(compression);
        if (gzip) tar = tar.pipe(gzip) as unknown as Readable;
        await writer.truncate(0);
        for await (const chunk of tar) await writer.write(chunk as Buffer);
        const labels = { ...request.labels, ...(gzip ? { [UNCOMPRESSED_LABEL]: uncompressed.digest() } : {}) };
        let digest: string;
        try {
          digest = await writer.commit(0, undefined, labels, meta);
        } catch (err) {
          if (!isKind(err, 'already exists')) throw err;
          digest = writer.digest();
        }
        return { mediaType, digest, size: this.content.info(namespace, digest).size };
      }),
    );
  }
}
