// `images export`: an OCI archive as containerd writes one (images/archive/exporter.go):
// oci-layout, index.json naming each image by annotation, every blob under blobs/<alg>/<hex>
// (checked against its digest while copied), and Docker's manifest.json for `docker load`.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import tar from 'tar-stream';
import { toJson, type Descriptor } from '../image/descriptor.js';
import { children, parseIndex, parseManifest, selectManifests } from '../image/manifest.js';
import { IMAGE_NAME_ANNOTATION, isIndexType, isManifestType, REF_NAME_ANNOTATION } from '../image/media-types.js';
import { allPlatforms, hostPlatform, onlyStrict, type PlatformMatcher } from '../image/platforms.js';
import { getImage } from '../image/store.js';
import { parseReference } from '../registry/reference.js';
import { readBlob, SERVICES, type Rpc } from '../rpc.js';

export interface ExportOptions {
  /** Which manifests of an index go in (default: exactly the host's platform, platforms.DefaultStrict). */
  readonly platform?: PlatformMatcher;
  readonly allPlatforms?: boolean;
  /** Leave out Docker's manifest.json. */
  readonly skipManifestJson?: boolean;
}

/** archive.ociReferenceName: the tag (or digest) part of a name. */
function ociRefName(name: string): string {
  try {
    const ref = parseReference(name);
    return ref.digest ? `${ref.tag ? `${ref.tag}@` : ''}${ref.digest}` : (ref.tag ?? name);
  } catch {
    return name;
  }
}

/** Docker's familiar form for manifest.json RepoTags: busybox:latest, host:5000/x:tag. */
function familiarName(name: string): string {
  const ref = parseReference(name);
  let repo = ref.domain === 'docker.io' ? ref.repository : `${ref.domain}/${ref.repository}`;
  if (ref.domain === 'docker.io' && /^library\/[^/]+$/.test(repo)) repo = repo.slice('library/'.length);
  return `${repo}:${ref.tag ?? 'latest'}`;
}

type EntrySink = ReturnType<ReturnType<typeof tar.pack>['entry']>;

interface TarRecord {
  readonly name: string;
  readonly mode: number;
  readonly type: 'file' | 'directory';
  readonly size: number;
  readonly write?: (entry: EntrySink) => Promise<void>;
}

export async function exportImages(rpc: Rpc, out: Writable, names: readonly string[], options: ExportOptions = {}): Promise<void> {
  const matcher = options.platform ?? onlyStrict(hostPlatform());
  const roots: Descriptor[] = [];
  for (const name of names) {
    const image = await getImage(rpc, name);
    roots.push({ ...image.target, annotations: { ...(image.target.annotations ?? {}), [IMAGE_NAME_ANNOTATION]: name, [REF_NAME_ANNOTATION]: ociRefName(name) } });
  }

  const records = new Map<string, TarRecord>();
  const addBlob = (desc: Descriptor) => {
    const [alg, hex] = desc.digest.split(':') as [string, string];
    const name = `blobs/${alg}/${hex}`;
    records.set('blobs/', { name: 'blobs/', mode: 0o755, type: 'directory', size: 0 });
    records.set(`blobs/${alg}/`, { name: `blobs/${alg}/`, mode: 0o755, type: 'directory', size: 0 });
    records.set(name, { name, mode: 0o444, type: 'file', size: desc.size, write: (entry) => copyBlob(rpc, desc, entry) });
  };
  /** images.Walk with ChildrenHandler: the blob and everything under it. */
  const addTree = async (desc: Descriptor): Promise<void> => {
    addBlob(desc);
    if (!isIndexType(desc.mediaType) && !isManifestType(desc.mediaType)) return;
    for (const child of children(desc, await readBlob(rpc, desc.digest))) await addTree(child);
  };

  const dockerManifests = new Map<string, { manifest: Descriptor; names: string[] }>();
  for (const root of roots) {
    const name = root.annotations![IMAGE_NAME_ANNOTATION]!;
    if (isManifestType(root.mediaType)) {
      await addTree(root);
      const entry = dockerManifests.get(root.digest) ?? { manifest: root, names: [] };
      entry.names.push(name);
      dockerManifests.set(root.digest, entry);
    } else if (isIndexType(root.mediaType)) {
      addBlob(root);
      const index = parseIndex(await readBlob(rpc, root.digest), root);
      const wanted = options.allPlatforms ? index.manifests : index.manifests.filter((m) => !m.platform || matcher.match(m.platform));
      for (const manifest of wanted) await addTree(manifest);
      const [best] = selectManifests({ manifests: index.manifests.filter((m) => !m.platform || matcher.match(m.platform)) }, options.allPlatforms ? allPlatforms : matcher, 1);
      if (!best) throw new Error(`${name}: no manifest found for platform`);
      const entry = dockerManifests.get(best.digest) ?? { manifest: best, names: [] };
      entry.names.push(name);
      dockerManifests.set(best.digest, entry);
    } else {
      throw new Error(`${name}: only manifests may be exported, not ${root.mediaType}`);
    }
  }

  const json = (name: string, value: unknown, mode = 0o644): TarRecord => {
    const bytes = Buffer.from(JSON.stringify(value));
    return { name, mode, type: 'file', size: bytes.length, write: async (entry) => void entry.end(bytes) };
  };
  records.set('oci-layout', json('oci-layout', { imageLayoutVersion: '1.0.0' }, 0o444));
  records.set('index.json', json('index.json', { schemaVersion: 2, manifests: roots.map(toJson) }));
  if (!options.skipManifestJson && dockerManifests.size > 0) {
    const entries = [];
    for (const { manifest, names: tagged } of dockerManifests.values()) {
      const body = parseManifest(await readBlob(rpc, manifest.digest), manifest);
      const path = (d: Descriptor) => `blobs/${d.digest.replace(':', '/')}`;
      entries.push({ Config: path(body.config), RepoTags: tagged.map(familiarName), Layers: body.layers.map(path) });
    }
    records.set('manifest.json', json('manifest.json', entries));
  }

  const pack = tar.pack();
  pack.pipe(out);
  const finished = once(out, 'finish');
  for (const record of [...records.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const header = { name: record.name, mode: record.mode, type: record.type, size: record.size, mtime: new Date(0), uid: 0, gid: 0 };
    if (record.type === 'directory') {
      pack.entry(header);
      continue;
    }
    let entry!: EntrySink;
    const written = new Promise<void>((resolve, reject) => (entry = pack.entry(header, (err) => (err ? reject(err) : resolve()))));
    await record.write!(entry);
    await written;
  }
  pack.finalize();
  await finished;
}

async function copyBlob(rpc: Rpc, desc: Descriptor, entry: EntrySink): Promise<void> {
  const hash = createHash(desc.digest.slice(0, desc.digest.indexOf(':')));
  const stream = rpc.stream<{ data: Buffer }>(SERVICES.content, 'Read', { digest: desc.digest });
  let size = 0;
  await new Promise<void>((resolve, reject) => {
    stream.on('data', ({ data }) => {
      hash.update(data);
      size += data.length;
      if (!entry.write(data)) stream.pause();
    });
    entry.on('drain', () => stream.resume());
    stream.on('end', resolve);
    stream.on('error', reject);
  });
  const actual = `${desc.digest.slice(0, desc.digest.indexOf(':'))}:${hash.digest('hex')}`;
  if (actual !== desc.digest || size !== desc.size) throw new Error(`unexpected digest ${actual} (${size} bytes) copied for ${desc.digest}`);
  entry.end(undefined);
}
