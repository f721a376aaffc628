/**
 * applyLayer: the engine behind Diff.Apply. Streams a layer blob (gzip, zstd or plain tar, as the
 * media type and magic bytes say) through tar-stream into a directory, with containerd 1.6's
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
import tar from 'tar-stream';
import { fromUtf8 } from './byte-path.js';
import { type Compression, decompressLayer } from './decompress.js';
import { type EntryHeader, Extractor, type WhiteoutMode } from './extractor.js';
import { TarFramer } from './tar-framer.js';

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

interface TarEntry extends Readable {
  header: EntryHeader;
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
  const framer = new TarFramer();
  framer.on('error', () => undefined); // observed through the pipeline and the entry loop
  const abort = () => {
    const reason = options.signal?.reason ?? new Error('aborted');
    stream.destroy(reason);
    framer.destroy(reason);
  };
  options.signal?.addEventListener('abort', abort, { once: true });
  try {
    return await run(stream, root, framer, options);
  } finally {
    options.signal?.removeEventListener('abort', abort);
  }
}

async function run(stream: Readable, root: string, framer: TarFramer, options: ApplyLayerOptions): Promise<ApplyLayerResult> {
  let layer;
  try {
    layer = await decompressLayer(stream, options.mediaType);
  } catch (err) {
    stream.destroy();
    throw options.signal?.aborted ? options.signal.reason : err;
  }
  // Names decoded as latin1 keep their bytes (byte-path.ts); V7 headers are accepted, as in Go.
  const extract = tar.extract({ filenameEncoding: 'latin1', allowUnknownFormat: true } as Parameters<typeof tar.extract>[0]);
  const fed = pipeline([...layer.stages, framer]);
  fed.catch(() => undefined); // observed below
  framer.on('error', (err) => extract.destroy(err));
  framer.pipe(extract as unknown as NodeJS.WritableStream);

  const extractor = new Extractor(fromUtf8(root), options);
  try {
    for await (const entry of extract as AsyncIterable<TarEntry>) {
      options.signal?.throwIfAborted();
      const meta = framer.entries.shift();
      if (!meta) throw new Error('internal error: tar framing out of step with tar-stream');
      await extractor.entry(entry.header, meta.typeflag, meta.pax, entry);
    }
    await fed;
    extractor.finish();
  } catch (err) {
    extract.destroy();
    for (const s of [...layer.stages, framer]) s.destroy();
    stream.destroy();
    await fed.catch(() => undefined);
    throw options.signal?.aborted ? options.signal.reason : err;
  }
  return {
    digest: framer.digest(),
    size: framer.size,
    compressed: { digest: layer.compressed.digest(), size: layer.compressed.size, compression: layer.compression },
    entries: extractor.entries,
  };
}
