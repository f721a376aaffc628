/**
 * Layer media types and how containerd 1.6 turns each into a tar stream (images.DiffCompression +
 * diff/stream.go): "detect" means decompress by magic bytes (gzip, zstd, else passthrough),
 * "none" means the bytes are the tar, with no detection.
 */
export const MEDIA_TYPE_LAYER = 'application/vnd.oci.image.layer.v1.tar';
export const MEDIA_TYPE_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const MEDIA_TYPE_LAYER_ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';
export const MEDIA_TYPE_LAYER_NON_DISTRIBUTABLE = 'application/vnd.oci.image.layer.nondistributable.v1.tar';
export const MEDIA_TYPE_DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar';
export const MEDIA_TYPE_DOCKER_LAYER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
export const MEDIA_TYPE_DOCKER_FOREIGN = 'application/vnd.docker.image.rootfs.foreign.diff.tar';
export const MEDIA_TYPE_DOCKER_FOREIGN_GZIP = 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip';

export type StreamHandling = 'detect' | 'none';

/** containerd's parseMediaTypes: base type and the sorted "+" extensions. */
export function parseMediaType(mediaType: string): { base: string; ext: string[] } {
  if (mediaType === '') return { base: '', ext: [] };
  const [base = '', ...ext] = mediaType.split('+');
  return { base, ext: ext.sort() };
}

/**
 * How a layer blob of this media type is read, or throws containerd's message for a media type
 * it has no stream processor for.
 */
export function streamHandling(mediaType: string): StreamHandling {
  const { base, ext } = parseMediaType(mediaType);
  switch (base) {
    case MEDIA_TYPE_DOCKER_LAYER:
    case MEDIA_TYPE_DOCKER_FOREIGN:
    case MEDIA_TYPE_DOCKER_LAYER_GZIP:
    case MEDIA_TYPE_DOCKER_FOREIGN_GZIP:
      // No extension: possibly compressed whatever the name says; a wrapped type ("+x") is raw.
      return ext.length > 0 ? 'none' : 'detect';
    case MEDIA_TYPE_LAYER:
    case MEDIA_TYPE_LAYER_NON_DISTRIBUTABLE: {
      const last = ext[ext.length - 1];
      return last === 'gzip' || last === 'zstd' ? 'detect' : 'none';
    }
    default:
      throw new Error(`failed to get stream processor for ${mediaType}: no processor for media-type`);
  }
}

/** Compression a Diff may produce (the walking differ accepts exactly these two media types). */
export function diffCompression(mediaType: string): 'gzip' | 'none' | undefined {
  if (mediaType === MEDIA_TYPE_LAYER_GZIP) return 'gzip';
  if (mediaType === MEDIA_TYPE_LAYER) return 'none';
  return undefined;
}
