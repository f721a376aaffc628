// Image media types (containerd images/mediatypes.go) and the content labels a pull derives from
// them. Layer types are the Diff service's own list.
import {
  MEDIA_TYPE_DOCKER_FOREIGN,
  MEDIA_TYPE_DOCKER_FOREIGN_GZIP,
  MEDIA_TYPE_DOCKER_LAYER,
  MEDIA_TYPE_DOCKER_LAYER_GZIP,
} from '../../diff/media-types.js';
import type { Descriptor } from './descriptor.js';

export const MT_DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const MT_DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const MT_DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
export const MT_DOCKER_SCHEMA1 = 'application/vnd.docker.distribution.manifest.v1+prettyjws';
export const MT_OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const MT_OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const MT_OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const MT_CHECKPOINT_CONFIG = 'application/vnd.containerd.container.checkpoint.config.v1+proto';

export { MEDIA_TYPE_DOCKER_LAYER, MEDIA_TYPE_DOCKER_LAYER_GZIP };

/** What a registry is asked for when resolving (remotes/docker/resolver.go), in its order. */
export const MANIFEST_ACCEPT = [MT_DOCKER_MANIFEST, MT_DOCKER_MANIFEST_LIST, MT_OCI_MANIFEST, MT_OCI_INDEX, '*/*'].join(', ');

export const isIndexType = (mt: string) => mt === MT_OCI_INDEX || mt === MT_DOCKER_MANIFEST_LIST;
export const isManifestType = (mt: string) => mt === MT_OCI_MANIFEST || mt === MT_DOCKER_MANIFEST;
export const isConfigType = (mt: string) => mt === MT_OCI_CONFIG || mt === MT_DOCKER_CONFIG || mt === MT_CHECKPOINT_CONFIG;
export const isLayerType = (mt: string) =>
  mt.startsWith('application/vnd.oci.image.layer.') ||
  [MEDIA_TYPE_DOCKER_LAYER, MEDIA_TYPE_DOCKER_LAYER_GZIP, MEDIA_TYPE_DOCKER_FOREIGN, MEDIA_TYPE_DOCKER_FOREIGN_GZIP].includes(mt);

/** Ingest refs as containerd's remotes.MakeRefKey names them. */
export function refKey(desc: Descriptor): string {
  const name = desc.annotations?.['org.opencontainers.image.ref.name'];
  const prefix = name ? `${name}@` : '';
  const kind = isManifestType(desc.mediaType)
    ? 'manifest'
    : isIndexType(desc.mediaType)
      ? 'index'
      : isLayerType(desc.mediaType)
        ? 'layer'
        : isConfigType(desc.mediaType)
          ? 'config'
          : 'unknown';
  return `${prefix}${kind}-${desc.digest}`;
}

/** containerd's images.ChildGCLabels: the label key prefix a parent uses to hold a child. */
function childLabelKey(child: Descriptor): string {
  if (isConfigType(child.mediaType)) return 'containerd.io/gc.ref.content.config';
  if (isManifestType(child.mediaType)) return 'containerd.io/gc.ref.content.m.';
  if (isLayerType(child.mediaType)) return 'containerd.io/gc.ref.content.l.';
  return 'containerd.io/gc.ref.content.';
}

/**
 * images.SetChildrenMappedLabels: one label per child; a key ending in "." always gets the
 * child's index among its kind, any other key gets a counter from the second use on.
 */
export function childGcLabels(children: readonly Descriptor[]): Record<string, string> {
  const labels: Record<string, string> = {};
  const used = new Map<string, number>();
  for (const child of children) {
    let key = childLabelKey(child);
    const index = used.get(key) ?? 0;
    used.set(key, index + 1);
    if (index > 0 || key.endsWith('.')) key = `${key}${index}`;
    labels[key] = child.digest;
  }
  return labels;
}

export const DISTRIBUTION_SOURCE_PREFIX = 'containerd.io/distribution.source.';
export const UNCOMPRESSED_LABEL = 'containerd.io/uncompressed';
export const SNAPSHOT_GC_PREFIX = 'containerd.io/gc.ref.snapshot.';
export const SNAPSHOT_REF_LABEL = 'containerd.io/snapshot.ref';
export const IMAGE_NAME_ANNOTATION = 'io.containerd.image.name';
export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';

/** remotes/docker/handler.go appendDistributionSourceLabel: sorted, de-duplicated repositories. */
export function appendDistributionSource(existing: string | undefined, repository: string): string {
  const repos = new Set(existing ? existing.split(',') : []);
  repos.add(repository);
  return [...repos].filter(Boolean).sort().join(',');
}
