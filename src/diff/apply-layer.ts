/**
 * applyLayer: the engine behind Diff.Apply. Streams a layer blob (gzip, zstd or plain tar, as the
 * media type and magic bytes say) through the tar reader into a directory, with containerd 1.6's
 * semantics (diff/apply + archive.Apply) and ledgerd's safety rules (extractor.ts,
 * root-resolver.ts). Nothing is staged: memory stays bounded whatever the layer size.
 *
 * On failure the target is left half-written (the caller discards the snapshot) and the input
 * stream is destroyed. Verifying the blob digest/size and the diffID is the caller's job: both
 * the compressed and the uncompressed digest and size are returned.
 */
import { realpathSync, statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fromUtf8 } from './byte-path.js';
import { type Compression, decompressLayer } from './decompress.js';
import { Extractor, type WhiteoutMode } from './extractor.js';
import { TarReader } from './tar-reader.js';

export interface ApplyLayerOptions {
  /** The layer descriptor's media type (decides decompression, as containerd's stream processors). */
  mediaType: string;
  /** 'overlay': whiteouts become overlayfs whiteouts (target is an upperdir); 'apply': delete lower files. */
  whiteouts: WhiteoutMode;
  /** Overlay lowerdirs, nearest first: parent dirs the layer implies copy their attributes from here. */
  parents?: string[];
  signal?: AbortSignal;
  /** Entries skipped or xattrs ignored, as containerd logs warnings. */
  onWarning?: (message: string) => void;
}

export interface ApplyLayerResult {
  /** sha256 of the uncompressed tar: the diffID. */
  digest: string;
  /** Bytes of the uncompressed tar (including padding after the end-of-archive marker). */
  size: number;
  /** What was read from the input, for the caller to check against the descriptor. */
  compressed: { digest: string; size: number; compression: Compression };
  /** Entries applied or skipped (PAX and long-name headers not counted). */
  entries: number;
}

export async function applyLayer(stream: Readable, target: string, options: ApplyLayerOptions): Promise<ApplyLayerResult> {
  if (options.whiteouts !== 'overlay' && options.whiteouts !== 'apply') {
    throw new TypeError(`whiteouts must be 'overlay' or 'apply', got ${JSON.stringify(options.whiteouts)}`);
  }
  let root: string;
  try {
    root = realpathSync(target);
    if (!statSync(root).isDirectory()) throw new Error('not a directory');
  } catch (err) {
    stream.destroy();
    throw new Error(`apply target ${JSON.stringify(target)}: ${(err as Error).message}`);
  }
  options.signal?.throwIfAborted();
  const extractor = new Extractor(fromUtf8(root), options);
  const reader = new TarReader(extractor);
  reader.on('error', () => undefined); // observed through the pipeline
  const abort = () => {
    const reason = options.signal?.reason ?? new Error('aborted');
    stream.destroy(reason);
    reader.destroy(reason);
  };
  options.signal?.addEventListener('abort', abort, { once: true });
  try {
    return await run(stream, extractor, reader, options);
  } finally {
    options.signal?.removeEventListener('abort', abort);
  }
}

async function run(stream: Readable, extractor: Extractor, reader: TarReader, options: ApplyLayerOptions): Promise<ApplyLayerResult> {
  let layer;
  try {
    layer = await decompressLayer(stream, options.mediaType);
  } catch (err) {
    stream.destroy();
    throw options.signal?.aborted ? options.signal.reason : err;
  }
  try {
    await pipeline([...layer.stages, reader]);
    extractor.finish();
  } catch (err) {
    extractor.abort();
    for (const s of layer.stages) s.destroy();
    stream.destroy();
    throw options.signal?.aborted ? options.signal.reason : err;
  }
  return {
    digest: reader.digest(),
    size: reader.size,
    compressed: { digest: layer.compressed.digest(), size: layer.compressed.size, compression: layer.compression },
    entries: extractor.entries,
  };
}
