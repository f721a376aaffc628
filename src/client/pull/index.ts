// `pull` as containerd's Go client does it (client.Pull with unpack), entirely over the daemon's
// standard services: a lease for everything written; the index/manifest/config blobs fetched into
// content with their gc.ref labels; for each chosen manifest the layers downloaded (a few at a
// time) while the ones already in are unpacked; then the image record; then the lease released.
import type { Descriptor, Platform } from '../image/descriptor.js';
import { children, configPlatform, parseConfig, parseIndex, parseManifest, selectManifests, type ImageConfig, type Manifest } from '../image/manifest.js';
import { childGcLabels, isIndexType, isManifestType } from '../image/media-types.js';
import { allPlatforms, anyOf, formatPlatform, hostPlatform, onlyPlatform, type PlatformMatcher } from '../image/platforms.js';
import { formatReference, hostsFromDir, IncompleteDownloadError, NotFoundError, parseReference, pullHosts, Registry, type CredentialsFor, type RegistryEndpoint } from '../registry/index.js';
import { SERVICES, type Rpc } from '../rpc.js';
import type { PullListener } from './events.js';
import { BlobFetcher } from './fetch.js';
import { takeLease } from './lease.js';
import { namespaceSnapshotter, Unpacker } from './unpack.js';
import { saveImage } from '../image/store.js';

export interface PullOptions {
  /** http for the registry whatever its host (localhost and loopback addresses always are). */
  readonly plainHttp?: boolean;
  /** A containerd hosts directory (hosts.toml per registry): mirrors and plain-http hosts. */
  readonly hostsDir?: string;
  readonly credentials?: CredentialsFor;
  /** Platforms to pull and unpack (default: the host's); ignored with allPlatforms. */
  readonly platforms?: readonly Platform[];
  readonly allPlatforms?: boolean;
  /** Snapshotter to unpack into (default: the namespace's containerd.io/defaults/snapshotter, else overlayfs). */
  readonly snapshotter?: string;
  /** Unpack after fetching (default true). */
  readonly unpack?: boolean;
  /** Layer downloads at once (default 3). */
  readonly maxConcurrentDownloads?: number;
  readonly labels?: Record<string, string>;
  readonly onEvent?: PullListener;
  readonly signal?: AbortSignal;
}

export interface UnpackedPlatform {
  readonly platform: string;
  readonly manifest: Descriptor;
  readonly chainId: string;
}

export interface PullResult {
  readonly name: string;
  readonly target: Descriptor;
  readonly snapshotter: string;
  readonly unpacked: readonly UnpackedPlatform[];
}

interface ImageToUnpack {
  readonly manifest: Descriptor;
  readonly body: Manifest;
  readonly config: Descriptor;
  readonly image: ImageConfig;
}

export async function pull(rpc: Rpc, reference: string, options: PullOptions = {}): Promise<PullResult> {
  const ref = parseReference(reference);
  const name = formatReference(ref);
  const listener: PullListener = options.onEvent ?? (() => undefined);
  const wanted = options.platforms?.length ? options.platforms : [hostPlatform()];
  const matcher: PlatformMatcher = options.allPlatforms ? allPlatforms : anyOf(wanted.map(onlyPlatform));
  const unpack = options.unpack ?? true;
  const snapshotter = unpack ? await namespaceSnapshotter(rpc, options.snapshotter) : (options.snapshotter ?? '');

  const endpoints = options.hostsDir ? pullHosts(hostsFromDir(options.hostsDir, ref.domain)) : [undefined];
  if (endpoints.length === 0) throw new Error(`${options.hostsDir}: no host for ${ref.domain} may pull and resolve`);
  const abort = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, abort.signal]) : abort.signal;
  listener({ type: 'resolving', name });
  const { registry, root } = await resolveOnFirst(ref, endpoints, { plainHttp: options.plainHttp, credentials: options.credentials }, signal);
  const lease = await takeLease(rpc);
  let keepLease = false;
  let fetcher: BlobFetcher | undefined;
  try {
    listener({ type: 'resolved', name, desc: root });

    fetcher = new BlobFetcher(lease.rpc, registry, options.maxConcurrentDownloads ?? 3, listener, signal);
    const unpacker = new Unpacker(lease.rpc, (layer) => fetcher!.fetch(layer), snapshotter, listener, lease.id);
    const images = await collectImages(fetcher, root, options.allPlatforms ? allPlatforms : matcher, wanted, !!options.allPlatforms);

    const work = images.map(async (image): Promise<UnpackedPlatform | undefined> => {
      const platform = formatPlatform(configPlatform(image.image));
      if (!unpack) {
        await Promise.all(image.body.layers.map((layer) => fetcher!.fetch(layer)));
        return undefined;
      }
      listener({ type: 'unpack', platform, manifest: image.manifest, status: 'start' });
      const chainId = await unpacker.unpack({ config: image.config, image: image.image, manifest: image.body });
      listener({ type: 'unpack', platform, manifest: image.manifest, status: 'done', chainId });
      return { platform, manifest: image.manifest, chainId };
    });
    const settled = await Promise.allSettled(work);
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;

    await saveImage(lease.rpc, { name, target: root, labels: options.labels ?? {} });
    const unpacked = settled.map((s) => (s as PromiseFulfilledResult<UnpackedPlatform | undefined>).value).filter((u): u is UnpackedPlatform => !!u);
    return { name, target: root, snapshotter, unpacked };
  } catch (err) {
    abort.abort(err);
    // downloads still running stop and keep what they have, under the lease
    await fetcher?.settled();
    if (err instanceof IncompleteDownloadError) {
      // the lease (it expires in 24 h) keeps the partial download from the collector: pulling
      // again resumes it where it stopped
      keepLease = true;
      throw new IncompleteDownloadError(`${err.message} (the partial download is kept under lease ${lease.id}; pulling again resumes it)`, { cause: err });
    }
    throw err;
  } finally {
    if (!keepLease) await lease.release().catch(() => undefined);
    await registry.close().catch(() => undefined);
  }
}

/**
 * The first host (a hosts.toml's mirrors in order, then its server) that resolves the reference,
 * as containerd's resolver tries them: a host that cannot be reached, refuses, answers an error or
 * does not have the image passes to the next (an abort stops there). The pull then fetches from
 * the host that resolved. All failing, the first host's error is thrown.
 */
async function resolveOnFirst(ref: ReturnType<typeof parseReference>, endpoints: readonly (RegistryEndpoint | undefined)[], options: { plainHttp?: boolean; credentials?: CredentialsFor }, signal: AbortSignal) {
  let firstError: unknown;
  for (const endpoint of endpoints) {
    const registry = new Registry(ref, { ...options, endpoint });
    try {
      return { registry, root: await registry.resolve(signal) };
    } catch (err) {
      await registry.close().catch(() => undefined);
      if (signal.aborted) throw err;
      firstError ??= err;
    }
  }
  throw resolveFailure(formatReference(ref), firstError);
}

/** containerd's client names the reference whose resolve failed; the error keeps its kind (NotFound) or its cause. */
function resolveFailure(name: string, err: unknown): Error {
  const message = `failed to resolve reference "${name}": ${err instanceof Error ? err.message : String(err)}`;
  return err instanceof NotFoundError ? new NotFoundError(message) : new Error(message, { cause: err });
}

/**
 * Walks from the root: an index is fetched with gc labels for all its children and narrowed to
 * the manifests the platforms want (the best one per platform, or all); a manifest with labels
 * for its config and layers; its config. Returns the images to fetch layers for.
 */
async function collectImages(fetcher: BlobFetcher, root: Descriptor, matcher: PlatformMatcher, wanted: readonly Platform[], all: boolean): Promise<ImageToUnpack[]> {
  const labelsFor = (desc: Descriptor) => (bytes: Buffer) => childGcLabels(children(desc, bytes));
  const visit = async (desc: Descriptor, fromIndex: boolean): Promise<ImageToUnpack[]> => {
    if (isIndexType(desc.mediaType)) {
      const index = parseIndex((await fetcher.fetch(desc, { keep: true, labelsFor: labelsFor(desc) }))!, desc);
      const chosen = all
        ? selectManifests(index, allPlatforms)
        : unique(wanted.flatMap((p) => selectManifests(index, onlyPlatform(p), 1)));
      if (chosen.length === 0) throw new Error(`${desc.digest}: no match for platform in manifest (wanted ${wanted.map(formatPlatform).join(', ')})`);
      return (await Promise.all(chosen.map((m) => visit(m, true)))).flat();
    }
    if (!isManifestType(desc.mediaType)) throw new Error(`${desc.digest}: cannot pull media type ${desc.mediaType || '(none)'}: not an image index or manifest`);
    const body = parseManifest((await fetcher.fetch(desc, { keep: true, labelsFor: labelsFor(desc) }))!, desc);
    const image = parseConfig((await fetcher.fetch(body.config, { keep: true }))!, body.config);
    // a manifest reached without a platform must be for one of ours (images.Manifest)
    if (!fromIndex && !matcher.match(configPlatform(image))) {
      throw new Error(`${desc.digest}: no match for platform in manifest: the image is ${formatPlatform(configPlatform(image))}`);
    }
    return [{ manifest: desc, body, config: body.config, image }];
  };
  return visit(root, false);
}

const unique = (descs: Descriptor[]) => [...new Map(descs.map((d) => [d.digest, d])).values()];
