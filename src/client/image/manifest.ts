// Reading image JSON: indexes, manifests and configs, with containerd's sanity checks
// (images/image.go validateMediaType, images.Children), and the identity of unpacked layers.
import { createHash } from 'node:crypto';
import type { Descriptor, Platform } from './descriptor.js';
import { isConfigType, isIndexType, isLayerType, isManifestType, MT_DOCKER_SCHEMA1 } from './media-types.js';
import { normalize, type PlatformMatcher } from './platforms.js';

export interface Index {
  readonly schemaVersion?: number;
  readonly mediaType?: string;
  readonly manifests: readonly Descriptor[];
  readonly annotations?: Record<string, string>;
}

export interface Manifest {
  readonly schemaVersion?: number;
  readonly mediaType?: string;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
  readonly annotations?: Record<string, string>;
}

export interface ImageConfig {
  readonly os?: string;
  readonly architecture?: string;
  readonly variant?: string;
  readonly config?: Record<string, unknown>;
  readonly rootfs?: { type?: string; diff_ids?: string[] };
}

function parseJson(bytes: Buffer, what: string, digest: string): Record<string, unknown> {
  try {
    const value = JSON.parse(bytes.toString('utf8'));
    if (value && typeof value === 'object' && !Array.isArray(value)) return value;
  } catch {
    /* reported below */
  }
  throw new Error(`${what} ${digest}: not a JSON object`);
}

/** Rejects a body whose fields contradict its media type, and schema 1 manifests. */
function validateBody(mediaType: string, body: Record<string, unknown>, digest: string): void {
  if ('fsLayers' in body || mediaType === MT_DOCKER_SCHEMA1) throw new Error(`${digest}: schema 1 manifests are not supported`);
  if (isManifestType(mediaType) && 'manifests' in body) throw new Error(`${digest}: media type ${mediaType} but the body is an index (has "manifests")`);
  if (isIndexType(mediaType) && ('config' in body || 'layers' in body)) throw new Error(`${digest}: media type ${mediaType} but the body is a manifest (has "config" or "layers")`);
}

function descriptorList(value: unknown, field: string, digest: string): Descriptor[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new Error(`${digest}: "${field}" must be a list of descriptors`);
  return value.map((d, i) => checkDescriptor(d, `${field}[${i}]`, digest));
}

function checkDescriptor(d: unknown, field: string, digest: string): Descriptor {
  const desc = d as Descriptor;
  if (!desc || typeof desc.digest !== 'string' || typeof desc.mediaType !== 'string' || typeof desc.size !== 'number' || desc.size < 0) {
    throw new Error(`${digest}: ${field} is not a descriptor (needs mediaType, digest and a size >= 0)`);
  }
  return desc;
}

export function parseIndex(bytes: Buffer, desc: Descriptor): Index {
  const body = parseJson(bytes, 'index', desc.digest);
  validateBody(desc.mediaType, body, desc.digest);
  return { ...body, manifests: descriptorList(body.manifests, 'manifests', desc.digest) };
}

export function parseManifest(bytes: Buffer, desc: Descriptor): Manifest {
  const body = parseJson(bytes, 'manifest', desc.digest);
  validateBody(desc.mediaType, body, desc.digest);
  return { ...body, config: checkDescriptor(body.config, 'config', desc.digest), layers: descriptorList(body.layers, 'layers', desc.digest) };
}

export function parseConfig(bytes: Buffer, desc: Descriptor): ImageConfig {
  return parseJson(bytes, 'image config', desc.digest) as ImageConfig;
}

/** images.Children: what a blob of this type points at (layers and configs: nothing). */
export function children(desc: Descriptor, bytes: Buffer): Descriptor[] {
  if (isIndexType(desc.mediaType)) return [...parseIndex(bytes, desc).manifests];
  if (isManifestType(desc.mediaType)) {
    const manifest = parseManifest(bytes, desc);
    return [manifest.config, ...manifest.layers];
  }
  if (isLayerType(desc.mediaType) || isConfigType(desc.mediaType)) return [];
  return [];
}

/**
 * The manifests of an index a matcher wants, best first (entries without a platform last), at
 * most `limit` of them (images.LimitManifests); entries without a platform always qualify.
 */
export function selectManifests(index: Index, matcher: PlatformMatcher, limit = Infinity): Descriptor[] {
  const kept = index.manifests.filter((m) => !m.platform || matcher.match(m.platform));
  const sorted = [...kept].sort((a, b) => {
    if (!a.platform) return b.platform ? 1 : 0;
    if (!b.platform) return -1;
    return matcher.less(a.platform, b.platform) ? -1 : matcher.less(b.platform, a.platform) ? 1 : 0;
  });
  return sorted.slice(0, limit);
}

/** The platform an image config declares (images.Platforms for a manifest without one). */
export const configPlatform = (config: ImageConfig): Platform =>
  normalize({ os: config.os ?? '', architecture: config.architecture ?? '', ...(config.variant ? { variant: config.variant } : {}) });

const sha256 = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`;

/** identity.ChainID over every prefix: chain[0] = diff[0], chain[n] = sha256(chain[n-1] + " " + diff[n]). */
export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  for (const diffId of diffIds) out.push(out.length === 0 ? diffId : sha256(`${out[out.length - 1]} ${diffId}`));
  return out;
}

/** identity.ChainID of the whole list ("" for no layers). */
export const chainId = (diffIds: readonly string[]): string => chainIds(diffIds).at(-1) ?? '';
