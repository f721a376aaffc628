// `images import`: an OCI archive (oci-layout + index.json + blobs/) or a `docker save` archive
// (manifest.json) into the content store and image records, as containerd's client.Import and
// archive.ImportIndex do it; then, by default, unpacked for the platform.
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import { writeBlob } from '../content/writer.js';
import { toJson, toWire, type Descriptor } from '../image/descriptor.js';
import { resolveImage } from '../image/inspect.js';
import { children, configPlatform, parseConfig, parseIndex } from '../image/manifest.js';
import {
  childGcLabels,
  IMAGE_NAME_ANNOTATION,
  isIndexType,
  isManifestType,
  MEDIA_TYPE_DOCKER_LAYER,
  MEDIA_TYPE_DOCKER_LAYER_GZIP,
  MT_DOCKER_CONFIG,
  MT_DOCKER_MANIFEST,
  MT_OCI_INDEX,
  REF_NAME_ANNOTATION,
} from '../image/media-types.js';
import { allPlatforms, defaultMatcher, formatPlatform, type PlatformMatcher } from '../image/platforms.js';
import { formatReference, parseReference } from '../registry/reference.js';
import { grpcCode, readBlob, SERVICES, type Rpc } from '../rpc.js';
import { Code } from '../../util/grpc-codes.js';
import { takeLease } from '../pull/lease.js';
import { namespaceSnapshotter, Unpacker } from '../pull/unpack.js';

export interface ImportOptions {
  /**
   * Names for entries that only carry a tag (org.opencontainers.image.ref.name): "<base>:<tag>";
   * when given, full names not under it are skipped (ctr --base-name). Default import-YYYY-MM-DD.
   */
  readonly baseName?: string;
  /** Which manifests to keep and unpack (default: the host's, platforms.Default()). */
  readonly platform?: PlatformMatcher;
  readonly allPlatforms?: boolean;
  readonly unpack?: boolean;
  readonly snapshotter?: string;
  /** Told as each image is unpacked. */
  readonly onUnpack?: (name: string, target: Descriptor, platform: string) => void;
}

export interface ImportedImage {
  readonly name: string;
  readonly target: Descriptor;
  /** Top chain ID when unpacked. */
  readonly chainId?: string;
}

interface StoredFile {
  readonly digest: string;
  readonly size: number;
  /** First bytes, to tell a gzip layer from a plain tar. */
  readonly head: Buffer;
}

interface DockerManifestEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

const JSON_LIMIT = 20 << 20;
const BLOB_PATH = /^blobs\/(sha256|sha384|sha512)\/([a-f0-9]+)$/;

export async function importArchive(rpc: Rpc, input: Readable, options: ImportOptions = {}): Promise<ImportedImage[]> {
  const lease = await takeLease(rpc);
  try {
    const archive = await readArchive(lease.rpc, input);
    const index = archive.ociLayout !== undefined ? ociIndex(archive) : await dockerIndex(lease.rpc, archive);
    const matcher = options.allPlatforms ? allPlatforms : (options.platform ?? defaultMatcher());
    const images = await registerIndex(lease.rpc, index, matcher, nameTranslator(options.baseName));
    if (options.unpack === false) return images;

    const snapshotter = await namespaceSnapshotter(rpc, options.snapshotter);
    const unpacker = new Unpacker(lease.rpc, async () => undefined, snapshotter, undefined, lease.id);
    const unpacked: ImportedImage[] = [];
    for (const image of images) {
      const resolved = await resolveImage(lease.rpc, image.target, options.platform ?? defaultMatcher());
      options.onUnpack?.(image.name, image.target, formatPlatform(configPlatform(resolved.image)));
      const chainId = await unpacker.unpack({ config: resolved.manifest.config, image: resolved.image, manifest: resolved.manifest });
      unpacked.push({ ...image, chainId });
    }
    return unpacked;
  } finally {
    await lease.release().catch(() => undefined);
  }
}

interface Archive {
  ociLayout?: { imageLayoutVersion?: string };
  dockerManifests?: DockerManifestEntry[];
  readonly files: Map<string, StoredFile>;
}

/** Every regular file into the content store (blobs/<alg>/<hex> checked against its name). */
async function readArchive(rpc: Rpc, input: Readable): Promise<Archive> {
  const archive: Archive = { files: new Map() };
  const symlinks = new Map<string, string>();
  const extract = tar.extract();
  input.on('error', (err) => extract.destroy(err));
  input.pipe(extract);
  for await (const entry of extract) {
    const header = entry.header;
    const body = entry as unknown as AsyncIterable<Buffer>;
    const name = posix.normalize(header.name).replace(/^(\.\/)+/, '').replace(/\/$/, '');
    if (header.type === 'symlink' && header.linkname) symlinks.set(name, posix.join(posix.dirname(name), header.linkname));
    if (header.type !== 'file' && header.type !== 'contiguous-file') {
      entry.resume();
      continue;
    }
    if (name === 'oci-layout') archive.ociLayout = JSON.parse((await collect(body, name)).toString('utf8'));
    else if (name === 'manifest.json') archive.dockerManifests = JSON.parse((await collect(body, name)).toString('utf8'));
    else archive.files.set(name, await storeFile(rpc, name, header.size ?? 0, body));
  }
  for (const [link, target] of symlinks) {
    const file = archive.files.get(target);
    if (file) archive.files.set(link, file);
    else if (!archive.ociLayout) throw new Error(`no target for symlink layer from "${link}" to "${target}"`);
  }
  return archive;
}

async function collect(entry: AsyncIterable<Buffer>, name: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of entry) {
    size += chunk.length;
    if (size > JSON_LIMIT) throw new Error(`${name}: larger than ${JSON_LIMIT} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

async function storeFile(rpc: Rpc, name: string, size: number, entry: AsyncIterable<Buffer>): Promise<StoredFile> {
  const named = BLOB_PATH.exec(name);
  const algorithm = named?.[1] ?? 'sha256';
  const hash = createHash(algorithm);
  let head = Buffer.alloc(0);
  async function* hashed(): AsyncGenerator<Buffer> {
    for await (const chunk of entry) {
      hash.update(chunk);
      if (head.length < 10) head = Buffer.concat([head, chunk.subarray(0, 10 - head.length)]);
      yield chunk;
    }
  }
  const expected = named ? `${named[1]}:${named[2]}` : undefined;
  const written = await writeBlob(rpc, { ref: `tar-${name}`, total: size, ...(expected ? { expected } : {}) }, hashed());
  if (written === 'exists' && expected) return { digest: expected, size, head: await blobHead(rpc, expected, size) };
  const digest = `${algorithm}:${hash.digest('hex')}`;
  if (expected && digest !== expected) throw new Error(`${name}: its content hashes to ${digest}`);
  return { digest, size, head };
}

/** The first bytes of a blob the namespace already had (its content was not read from the archive). */
async function blobHead(rpc: Rpc, digest: string, size: number): Promise<Buffer> {
  if (size === 0) return Buffer.alloc(0);
  const chunks = await new Promise<Buffer[]>((resolve, reject) => {
    const out: Buffer[] = [];
    const stream = rpc.stream<{ data: Buffer }>(SERVICES.content, 'Read', { digest, offset: 0, size: Math.min(size, 10) });
    stream.on('data', ({ data }) => out.push(data));
    stream.on('end', () => resolve(out));
    stream.on('error', reject);
  });
  return Buffer.concat(chunks);
}

function ociIndex(archive: Archive): Descriptor {
  if (archive.ociLayout?.imageLayoutVersion !== '1.0.0') throw new Error(`unsupported OCI version ${archive.ociLayout?.imageLayoutVersion}`);
  const index = archive.files.get('index.json');
  if (!index) throw new Error('missing index.json in OCI layout 1.0.0');
  return { mediaType: MT_OCI_INDEX, digest: index.digest, size: index.size };
}

/** A `docker save` archive: a Docker manifest per manifest.json entry, and an index naming them. */
async function dockerIndex(rpc: Rpc, archive: Archive): Promise<Descriptor> {
  if (!Array.isArray(archive.dockerManifests)) throw new Error('unrecognized image format: neither an OCI layout (oci-layout) nor a docker save archive (manifest.json)');
  const manifests: Descriptor[] = [];
  for (const entry of archive.dockerManifests) {
    const config = archive.files.get(posix.normalize(entry.Config));
    if (!config) throw new Error(`image config "${entry.Config}" not found`);
    const configDesc: Descriptor = { mediaType: MT_DOCKER_CONFIG, digest: config.digest, size: config.size };
    const layers = entry.Layers.map((path): Descriptor => {
      const layer = archive.files.get(posix.normalize(path));
      if (!layer) throw new Error(`layer "${path}" not found`);
      const gzipped = layer.head[0] === 0x1f && layer.head[1] === 0x8b;
      const zstd = layer.head.readUInt32LE(0) === 0xfd2fb528;
      return { mediaType: gzipped || zstd ? MEDIA_TYPE_DOCKER_LAYER_GZIP : MEDIA_TYPE_DOCKER_LAYER, digest: layer.digest, size: layer.size };
    });
    const manifest = await writeJson(rpc, { schemaVersion: 2, mediaType: MT_DOCKER_MANIFEST, config: toJson(configDesc), layers: layers.map(toJson) }, MT_DOCKER_MANIFEST, 'manifest');
    const image = parseConfig(await readBlob(rpc, config.digest), configDesc);
    const withPlatform: Descriptor = image.os ? { ...manifest, platform: configPlatform(image) } : manifest;
    const tags = entry.RepoTags ?? [];
    if (tags.length === 0) manifests.push(withPlatform);
    for (const tag of tags) {
      const name = formatReference(parseReference(tag));
      manifests.push({ ...withPlatform, annotations: { [IMAGE_NAME_ANNOTATION]: name, [REF_NAME_ANNOTATION]: parseReference(name).tag ?? name } });
    }
  }
  return writeJson(rpc, { schemaVersion: 2, manifests: manifests.map(toJson) }, MT_OCI_INDEX, 'index');
}

async function writeJson(rpc: Rpc, value: unknown, mediaType: string, kind: string): Promise<Descriptor> {
  const bytes = Buffer.from(JSON.stringify(value));
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  await writeBlob(rpc, { ref: `${kind}-${digest}`, total: bytes.length, expected: digest }, bytes);
  return { mediaType, digest, size: bytes.length };
}

/** archive.AddRefPrefix / FilterRefPrefix: what an entry with only an OCI ref name is called. */
function nameTranslator(baseName: string | undefined): (ref: string) => string {
  const prefix = baseName ?? `import-${new Date().toISOString().slice(0, 10)}`;
  return (ref) => {
    if (/[/:@]/.test(ref)) {
      if (!baseName) return ref;
      const rest = ref.slice(prefix.length);
      return ref.startsWith(prefix) && (rest === '' || '/:@'.includes(rest[0]!)) ? ref : '';
    }
    return `${prefix}:${ref}`;
  };
}

/**
 * Walks from the archive's index: its entries name the images; every index and manifest gets
 * gc labels for the children the platform keeps (images.SetChildrenLabels over FilterPlatforms).
 */
async function registerIndex(rpc: Rpc, index: Descriptor, matcher: PlatformMatcher, translate: (ref: string) => string): Promise<ImportedImage[]> {
  const images: ImportedImage[] = [];
  for (const m of parseIndex(await readBlob(rpc, index.digest), index).manifests) {
    const name = m.annotations?.[IMAGE_NAME_ANNOTATION] || (m.annotations?.[REF_NAME_ANNOTATION] ? translate(m.annotations[REF_NAME_ANNOTATION]) : '');
    if (name) images.push({ name, target: m });
  }
  const label = async (desc: Descriptor): Promise<void> => {
    if (!isIndexType(desc.mediaType) && !isManifestType(desc.mediaType)) return;
    const kept = children(desc, await readBlob(rpc, desc.digest)).filter((c) => !c.platform || matcher.match(c.platform));
    if (kept.length === 0) return;
    const labels = childGcLabels(kept);
    await rpc.unary(SERVICES.content, 'Update', { info: { digest: desc.digest, labels }, update_mask: { paths: Object.keys(labels).map((k) => `labels.${k}`) } });
    for (const child of kept) await label(child);
  };
  await label(index);

  for (const image of images) {
    const wire = { name: image.name, labels: {}, target: toWire(image.target) };
    try {
      await rpc.unary(SERVICES.images, 'Update', { image: wire, update_mask: { paths: ['target'] } });
    } catch (err) {
      if (grpcCode(err) !== Code.NotFound) throw err;
      await rpc.unary(SERVICES.images, 'Create', { image: wire });
    }
  }
  return images;
}
