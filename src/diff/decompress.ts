/**
 * Turns a layer blob stream into its tar stream, as containerd's stream processors do: the media
 * type says whether to detect compression (media-types.ts), the magic bytes say which
 * (archive/compression): gzip through node:zlib (which inflates on the libuv thread pool, off the
 * main thread), zstd through node:zlib where Node has it (>= 22.15) or the `zstd` binary, anything
 * else passes through. The compressed bytes are hashed and counted on the way in.
 */
import { createHash, type Hash } from 'node:crypto';
import { Readable, Transform, type Duplex, type TransformCallback } from 'node:stream';
import * as zlib from 'node:zlib';
import { streamHandling } from './media-types.js';

export type Compression = 'gzip' | 'zstd' | 'none';

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b, 0x08]);
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
const CHUNK = 256 * 1024;

/** containerd's DetectCompression over the first bytes of a stream. */
export function detectCompression(head: Buffer): Compression {
  if (head.subarray(0, 3).equals(GZIP_MAGIC)) return 'gzip';
  if (head.subarray(0, 4).equals(ZSTD_MAGIC)) return 'zstd';
  if (head.length >= 8 && (head.readUInt32LE(0) & 0xfffffff0) >>> 0 === 0x184d2a50) return 'zstd'; // skippable frame
  return 'none';
}

/** A pass-through that hashes (sha256) and counts what flows through it. */
export class DigestCounter extends Transform {
  private readonly hash: Hash = createHash('sha256');
  private total = 0;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.total += chunk.length;
    cb(null, chunk);
  }

  digest(): string {
    return `sha256:${this.hash.copy().digest('hex')}`;
  }

  get size(): number {
    return this.total;
  }
}

export interface DecompressedLayer {
  /** Streams to chain, first to last; the last one yields the tar. */
  stages: [Readable, ...Duplex[]];
  compression: Compression;
  /** Hash and count of the blob bytes as read from `input`. */
  compressed: DigestCounter;
}

/**
 * Reads the first bytes of `input`, decides on decompression, and returns the chain of streams
 * that yields the tar. Throws (before reading anything) for a media type containerd has no stream
 * processor for.
 */
export async function decompressLayer(input: Readable, mediaType: string): Promise<DecompressedLayer> {
  const handling = streamHandling(mediaType);
  const compressed = new DigestCounter();
  input.on('error', (err) => compressed.destroy(err));
  input.pipe(compressed);

  const it = compressed[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const head: Buffer[] = [];
  let headLength = 0;
  let done = false;
  while (headLength < 10) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    head.push(r.value);
    headLength += r.value.length;
  }
  const replay = Readable.from(
    (async function* () {
      try {
        yield* head;
        if (!done) for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
      } finally {
        await it.return?.();
      }
    })(),
    { objectMode: false, highWaterMark: CHUNK },
  );

  const compression = handling === 'none' ? 'none' : detectCompression(Buffer.concat(head));
  const stages: [Readable, ...Duplex[]] = [replay];
  if (compression === 'gzip') stages.push(zlib.createGunzip({ chunkSize: CHUNK }));
  if (compression === 'zstd') stages.push(await zstdDecompressor());
  return { stages, compression, compressed };
}

async function zstdDecompressor(): Promise<Duplex> {
  const native = (zlib as unknown as { createZstdDecompress?: (o?: object) => Duplex }).createZstdDecompress;
  if (native) return native({ chunkSize: CHUNK });
  // The binary's exit status and stderr surface as the duplex's error (a missing binary: ENOENT).
  // execa (a hundred modules) loads on the first zstd layer, not with every daemon.
  const { execa } = await import('execa');
  return execa('zstd', ['-d', '-c', '-q'], { buffer: { stdout: false, stderr: true }, stripFinalNewline: false }).duplex();
}

/** A compressor for a Diff's output media type (containerd's walking differ: gzip or none). */
export function compressor(compression: 'gzip' | 'none'): Duplex | null {
  return compression === 'gzip' ? zlib.createGzip({ chunkSize: CHUNK }) : null;
}
