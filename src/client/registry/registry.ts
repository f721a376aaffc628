// One registry repository over the Docker Registry HTTP API v2: resolve a tag or digest to a
// descriptor (remotes/docker/resolver.go) and open blobs and manifests from an offset
// (remotes/docker/fetcher.go).
import { createHash } from 'node:crypto';
import type { Descriptor } from '../image/descriptor.js';
import { isIndexType, isManifestType, MANIFEST_ACCEPT, MT_DOCKER_MANIFEST, MT_DOCKER_SCHEMA1, MT_OCI_INDEX, MT_OCI_MANIFEST } from '../image/media-types.js';
import { RegistryError } from './errors.js';
import { registryEndpoint, type HostOptions, type RegistryEndpoint } from './hosts.js';
import { formatReference, referenceObject, type ImageReference } from './reference.js';
import { headerValue, RegistryTransport, type RegistryResponse, type TransportOptions } from './transport.js';
import { isValidDigest } from '../../util/digest.js';

/** containerd's MaxManifestSize (4 * 1048 * 1048, sic). */
export const MAX_MANIFEST_SIZE = 4 * 1048 * 1048;

export interface RegistryOptions extends HostOptions, TransportOptions {
  /** Where to reach the registry (a mirror from a hosts directory); default: the reference's host. */
  readonly endpoint?: RegistryEndpoint;
}

export class NotFoundError extends Error {}

export class Registry {
  readonly endpoint: RegistryEndpoint;
  private readonly transport: RegistryTransport;
  private readonly scope: string;

  constructor(
    readonly ref: ImageReference,
    options: RegistryOptions = {},
  ) {
    this.endpoint = options.endpoint ?? registryEndpoint(ref.domain, options);
    this.transport = new RegistryTransport(options);
    this.scope = `repository:${ref.repository}:pull`;
  }

  private url(kind: 'manifests' | 'blobs', object: string): string {
    return `${this.endpoint.origin}/v2/${this.ref.repository}/${kind}/${object}`;
  }

  /** The root descriptor the reference names: by digest (manifests, then blobs) or by tag. */
  async resolve(signal?: AbortSignal): Promise<Descriptor> {
    const object = referenceObject(this.ref);
    const digest = this.ref.digest;
    const urls = digest ? [this.url('manifests', digest), this.url('blobs', digest)] : [this.url('manifests', object)];
    for (const url of urls) {
      let response = await this.transport.request(url, { method: 'HEAD', headers: { accept: MANIFEST_ACCEPT }, scope: this.scope, signal });
      await response.body.dump();
      if (response.status === 405) response = await this.transport.request(url, { method: 'GET', headers: { accept: MANIFEST_ACCEPT }, scope: this.scope, signal });
      if (response.status === 404) {
        await response.body.dump();
        continue;
      }
      if (response.status > 299) throw await this.transport.failure(response, response.status === 405 ? 'GET' : 'HEAD');
      const header = headerValue(response.headers['docker-content-digest']);
      const length = headerValue(response.headers['content-length']);
      let mediaType = (headerValue(response.headers['content-type']) ?? '').split(';')[0]!.trim();
      let resolved = digest ?? (header && isValidDigest(header) ? header : undefined);
      let size = length !== undefined ? Number(length) : NaN;
      if (!resolved || !Number.isFinite(size) || !isManifestType(mediaType) && !isIndexType(mediaType)) {
        const got = await this.getManifestBody(url, signal);
        if (!resolved) resolved = got.digest;
        size = got.body.length;
        if (!isManifestType(mediaType) && !isIndexType(mediaType)) mediaType = sniffMediaType(mediaType, got.body);
      } else if (response.body.readable) {
        await response.body.dump();
      }
      if (mediaType === MT_DOCKER_SCHEMA1 || mediaType === 'text/plain') throw new Error(`${formatReference(this.ref)}: schema 1 manifests are not supported`);
      if (size > MAX_MANIFEST_SIZE) throw new Error(`rejecting ${size} byte manifest for ${formatReference(this.ref)}: larger than ${MAX_MANIFEST_SIZE} bytes`);
      return { mediaType, digest: resolved, size };
    }
    throw new NotFoundError(`${formatReference(this.ref)}: not found`);
  }

  private async getManifestBody(url: string, signal?: AbortSignal): Promise<{ body: Buffer; digest: string }> {
    const response = await this.transport.request(url, { method: 'GET', headers: { accept: MANIFEST_ACCEPT }, scope: this.scope, signal });
    if (response.status > 299) throw await this.transport.failure(response, 'GET');
    const chunks: Buffer[] = [];
    let length = 0;
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      length += chunk.length;
      if (length > MAX_MANIFEST_SIZE) {
        response.body.destroy();
        throw new Error(`rejecting a manifest of more than ${MAX_MANIFEST_SIZE} bytes from ${url}`);
      }
      chunks.push(chunk);
    }
    const body = Buffer.concat(chunks);
    return { body, digest: `sha256:${createHash('sha256').update(body).digest('hex')}` };
  }

  /**
   * The bytes of a blob or manifest from `offset` on. A server that ignores Range has the first
   * `offset` bytes skipped here; a Content-Range for another offset is an error.
   */
  async open(desc: Descriptor, offset = 0, signal?: AbortSignal): Promise<AsyncGenerator<Buffer>> {
    const headers: Record<string, string> = { accept: `${desc.mediaType}, */*` };
    if (offset > 0) headers.range = `bytes=${offset}-`;
    const kind = isManifestType(desc.mediaType) || isIndexType(desc.mediaType) ? 'manifests' : 'blobs';
    const candidates = [...(desc.urls ?? []).filter((u) => /^https?:\/\//.test(u)), this.url(kind, desc.digest)];
    let failure: Error | undefined;
    for (const url of candidates) {
      let response: RegistryResponse;
      try {
        response = await this.transport.request(url, { method: 'GET', headers, scope: this.scope, signal });
      } catch (err) {
        failure ??= err as Error;
        continue;
      }
      if (response.status === 404) {
        await response.body.dump();
        failure ??= new RegistryError('GET', response.url, 404, 'Not Found', [{ code: 'NOT_FOUND', message: `content ${desc.digest} not found` }]);
        continue;
      }
      if (response.status > 299) throw await this.transport.failure(response, 'GET');
      return fromOffset(response, offset);
    }
    throw failure ?? new NotFoundError(`${desc.digest}: not found`);
  }

  close(): Promise<void> {
    return this.transport.close();
  }
}

/** The body from `offset` on: checks a Content-Range, or drops the first bytes of a whole body. */
async function* fromOffset(response: RegistryResponse, offset: number): AsyncGenerator<Buffer> {
  const range = headerValue(response.headers['content-range']);
  let skip = offset;
  if (offset > 0 && range) {
    if (!range.startsWith(`bytes ${offset}-`)) {
      response.body.destroy();
      throw new Error(`unhandled content range in response from ${response.url}: ${range} (asked for bytes=${offset}-)`);
    }
    skip = 0;
  }
  for await (const chunk of response.body as AsyncIterable<Buffer>) {
    if (skip >= chunk.length) {
      skip -= chunk.length;
      continue;
    }
    yield skip > 0 ? chunk.subarray(skip) : chunk;
    skip = 0;
  }
  if (skip > 0) throw new Error(`unable to discard to offset ${offset} of ${response.url}: the body ended early`);
}

/** A media type for a manifest served with a generic Content-Type: its own field, else its shape. */
function sniffMediaType(contentType: string, body: Buffer): string {
  try {
    const parsed = JSON.parse(body.toString('utf8'));
    if (typeof parsed.mediaType === 'string' && parsed.mediaType) return parsed.mediaType;
    if (Array.isArray(parsed.manifests)) return MT_OCI_INDEX;
    if (parsed.config) return parsed.schemaVersion === 2 && contentType.includes('docker') ? MT_DOCKER_MANIFEST : MT_OCI_MANIFEST;
    if (parsed.fsLayers) return MT_DOCKER_SCHEMA1;
  } catch {
    /* not JSON: keep the header's type */
  }
  return contentType;
}
