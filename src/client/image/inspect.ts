// What `images ls` shows about an image, computed from its content as containerd does
// (images.Image.Size with platforms.Default(), images.Platforms).
import { readBlob, type Rpc } from '../rpc.js';
import type { Descriptor, Platform } from './descriptor.js';
import { configPlatform, parseConfig, parseIndex, parseManifest, selectManifests, type ImageConfig, type Manifest } from './manifest.js';
import { isConfigType, isIndexType, isManifestType } from './media-types.js';
import { defaultMatcher, type PlatformMatcher } from './platforms.js';

/**
 * Bytes of the image for one platform: the root, the best manifest, its config and layers. As
 * containerd's walk, what was counted before a missing blob stops it is kept (the size is partial).
 */
export async function imageSize(rpc: Rpc, target: Descriptor, matcher: PlatformMatcher = defaultMatcher()): Promise<number> {
  let size = 0;
  const visit = async (desc: Descriptor): Promise<void> => {
    size += desc.size;
    if (isIndexType(desc.mediaType)) {
      const index = parseIndex(await readBlob(rpc, desc.digest), desc);
      for (const child of selectManifests(index, matcher, 1)) await visit(child);
    } else if (isManifestType(desc.mediaType)) {
      const manifest = parseManifest(await readBlob(rpc, desc.digest), desc);
      size += manifest.config.size + manifest.layers.reduce((sum, layer) => sum + layer.size, 0);
    }
  };
  await visit(target).catch(() => undefined);
  return size;
}

/** Every platform the image declares: index entries' platforms, else the configs' os/architecture. */
export async function imagePlatforms(rpc: Rpc, target: Descriptor): Promise<Platform[]> {
  if (target.platform) return [target.platform];
  if (isIndexType(target.mediaType)) {
    const index = parseIndex(await readBlob(rpc, target.digest), target);
    return (await Promise.all(index.manifests.map((m) => imagePlatforms(rpc, m)))).flat();
  }
  if (isManifestType(target.mediaType)) return imagePlatforms(rpc, parseManifest(await readBlob(rpc, target.digest), target).config);
  if (isConfigType(target.mediaType)) return [configPlatform(parseConfig(await readBlob(rpc, target.digest), target))];
  return [];
}

export interface ResolvedImage {
  readonly manifestDesc: Descriptor;
  readonly manifest: Manifest;
  readonly image: ImageConfig;
}

/** images.Manifest: the manifest for the platform (best index entry) and its config. */
export async function resolveImage(rpc: Rpc, target: Descriptor, matcher: PlatformMatcher = defaultMatcher()): Promise<ResolvedImage> {
  let manifestDesc = target;
  if (isIndexType(target.mediaType)) {
    const [chosen] = selectManifests(parseIndex(await readBlob(rpc, target.digest), target), matcher, 1);
    if (!chosen) throw new Error(`${target.digest}: no match for platform in manifest`);
    if (isIndexType(chosen.mediaType)) return resolveImage(rpc, chosen, matcher);
    manifestDesc = chosen;
  }
  if (!isManifestType(manifestDesc.mediaType)) throw new Error(`${manifestDesc.digest}: media type ${manifestDesc.mediaType} is not an image manifest`);
  const manifest = parseManifest(await readBlob(rpc, manifestDesc.digest), manifestDesc);
  const image = parseConfig(await readBlob(rpc, manifest.config.digest), manifest.config);
  if (manifestDesc === target && !matcher.match(configPlatform(image))) throw new Error(`${target.digest}: no match for platform in manifest`);
  return { manifestDesc, manifest, image };
}
