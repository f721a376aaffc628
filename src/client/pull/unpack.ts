// Layers -> snapshots, as containerd's unpacker does it (unpacker.go): for each layer in order,
// skip it if its chain ID is committed already, else Prepare an extraction snapshot on the parent
// chain, Apply the compressed blob through the Diff service, check the diff ID it reports against
// the config, and Commit under the chain ID. Downloads start with the first layer that needs
// unpacking and run ahead of it (layer N is applied while N+1… are still arriving).
import { randomBytes } from 'node:crypto';
import type { Descriptor } from '../image/descriptor.js';
import { toWire } from '../image/descriptor.js';
import { chainIds, type ImageConfig, type Manifest } from '../image/manifest.js';
import { SNAPSHOT_GC_PREFIX, SNAPSHOT_REF_LABEL, UNCOMPRESSED_LABEL } from '../image/media-types.js';
import { grpcCode, SERVICES, type Rpc } from '../rpc.js';
import { Code } from '../../util/grpc-codes.js';
import type { PullListener } from './events.js';

/** Resolves when a layer's blob is in the content store (a pull's download, or at once). */
export type LayerSource = (layer: Descriptor) => Promise<unknown>;

export interface UnpackInput {
  readonly config: Descriptor;
  readonly image: ImageConfig;
  readonly manifest: Manifest;
}

const DEFAULT_SNAPSHOTTER_LABEL = 'containerd.io/defaults/snapshotter';

/** The snapshotter a namespace asks for by label, else overlayfs (client.resolveSnapshotterName). */
export async function namespaceSnapshotter(rpc: Rpc, requested?: string): Promise<string> {
  if (requested) return requested;
  const { namespace } = await rpc.unary<{ namespace: { labels: Record<string, string> } }>(SERVICES.namespaces, 'Get', { name: rpc.namespace ?? 'default' }).catch(() => ({
    namespace: { labels: {} as Record<string, string> },
  }));
  return namespace.labels?.[DEFAULT_SNAPSHOTTER_LABEL] || 'overlayfs';
}

const INHERITED_LABEL_PREFIX = 'containerd.io/snapshot/';
const PREPARE_ATTEMPTS = 3;

/** unpacker.go uniquePart: nanoseconds of the second and 3 random bytes, base64url. */
const uniquePart = () => `${(Date.now() % 1000) * 1_000_000 + Math.floor(Math.random() * 1_000_000)}-${randomBytes(3).toString('base64url')}`;

interface WireMount {
  type: string;
  source: string;
  target?: string;
  options: string[];
}

export class Unpacker {
  private readonly unpacking = new Map<string, Promise<boolean>>();

  constructor(
    private readonly rpc: Rpc,
    private readonly layerSource: LayerSource,
    readonly snapshotter: string,
    private readonly listener: PullListener = () => undefined,
    /** The lease the unpack works under: snapshots found already there are added to it. */
    private readonly lease?: string,
  ) {}

  /** Unpacks one image (fetching the layers it needs) and returns its top chain ID. */
  async unpack({ config, image, manifest }: UnpackInput): Promise<string> {
    const diffIds = image.rootfs?.diff_ids ?? [];
    const layers = manifest.layers;
    if (layers.length !== diffIds.length) throw new Error(`number of layers and diffIDs don't match: ${layers.length} != ${diffIds.length}`);
    const chains = chainIds(diffIds);

    let first = 0;
    while (first < chains.length && (await this.exists(chains[first]!))) {
      this.listener({ type: 'layer', layer: layers[first]!, chainId: chains[first]!, status: 'exists' });
      first++;
    }
    // every download starts now, in order; the limiter keeps only a few running
    const fetched = layers.map((layer, i) => (i >= first ? this.layerSource(layer) : Promise.resolve(undefined)));
    fetched.forEach((f) => f.catch(() => undefined));

    for (let i = first; i < layers.length; i++) {
      const layer = layers[i]!;
      const chainId = chains[i]!;
      const applied = await this.unpackLayer(layer, diffIds[i]!, chainId, i > 0 ? chains[i - 1]! : '', fetched[i]!);
      this.listener({ type: 'layer', layer, chainId, status: applied ? 'applied' : 'exists' });
    }
    const top = chains.at(-1) ?? '';
    if (top) {
      const key = `${SNAPSHOT_GC_PREFIX}${this.snapshotter}`;
      await this.rpc.unary(SERVICES.content, 'Update', { info: { digest: config.digest, labels: { [key]: top } }, update_mask: { paths: [`labels.${key}`] } });
    }
    return top;
  }

  /** One unpack per chain at a time in this client (images of an index may share layers). */
  private unpackLayer(layer: Descriptor, diffId: string, chainId: string, parent: string, fetched: Promise<unknown>): Promise<boolean> {
    const running = this.unpacking.get(chainId);
    if (running) return running.then(() => false);
    const unpacked = this.unpackLayerOnce(layer, diffId, chainId, parent, fetched).finally(() => this.unpacking.delete(chainId));
    this.unpacking.set(chainId, unpacked);
    return unpacked;
  }

  /** Returns false when the chain was there (or appeared meanwhile), true when this call applied it. */
  private async unpackLayerOnce(layer: Descriptor, diffId: string, chainId: string, parent: string, fetched: Promise<unknown>): Promise<boolean> {
    if (await this.exists(chainId)) return false;
    const labels: Record<string, string> = { ...inheritedLabels(layer), [SNAPSHOT_REF_LABEL]: chainId };
    let key = '';
    let mounts: WireMount[] | undefined;
    for (let attempt = 1; attempt <= PREPARE_ATTEMPTS && !mounts; attempt++) {
      key = `extract-${uniquePart()} ${chainId}`;
      try {
        ({ mounts } = await this.rpc.unary<{ mounts: WireMount[] }>(SERVICES.snapshots, 'Prepare', { snapshotter: this.snapshotter, key, parent, labels }));
      } catch (err) {
        if (grpcCode(err) !== Code.AlreadyExists) throw new Error(`failed to prepare extraction snapshot "${key}": ${message(err)}`);
        if (await this.exists(chainId)) return false;
      }
    }
    if (!mounts) throw new Error(`unable to prepare extraction snapshot for ${chainId}`);

    const remove = () => this.rpc.unary(SERVICES.snapshots, 'Remove', { snapshotter: this.snapshotter, key }).catch(() => undefined);
    try {
      await fetched;
    } catch (err) {
      await remove();
      throw err;
    }
    try {
      const { applied } = await this.rpc.unary<{ applied: { digest: string } }>(SERVICES.diff, 'Apply', { diff: toWire(layer), mounts });
      if (applied.digest !== diffId) throw new Error(`wrong diff id calculated on extraction "${diffId}": the layer ${layer.digest} unpacked to ${applied.digest}`);
    } catch (err) {
      await remove();
      throw err instanceof Error && /diff id/.test(err.message) ? err : new Error(`failed to extract layer ${diffId}: ${message(err)}`);
    }
    try {
      await this.rpc.unary(SERVICES.snapshots, 'Commit', { snapshotter: this.snapshotter, name: chainId, key, labels });
    } catch (err) {
      await remove();
      if (grpcCode(err) === Code.AlreadyExists) return false;
      throw new Error(`failed to commit snapshot ${key}: ${message(err)}`);
    }
    // the uncompressed digest is known good only now that apply has verified it
    await this.rpc.unary(SERVICES.content, 'Update', {
      info: { digest: layer.digest, labels: { [UNCOMPRESSED_LABEL]: diffId } },
      update_mask: { paths: [`labels.${UNCOMPRESSED_LABEL}`] },
    });
    return true;
  }

  /**
   * Whether the chain is committed. One found under a lease is made a resource of that lease and
   * checked again, so that a collection running meanwhile cannot remove a parent this unpack
   * builds on.
   */
  private async exists(chainId: string): Promise<boolean> {
    if (!(await this.stat(chainId))) return false;
    if (!this.lease) return true;
    await this.rpc.unary(SERVICES.leases, 'AddResource', { id: this.lease, resource: { id: chainId, type: `snapshots/${this.snapshotter}` } });
    return this.stat(chainId);
  }

  private async stat(chainId: string): Promise<boolean> {
    try {
      await this.rpc.unary(SERVICES.snapshots, 'Stat', { snapshotter: this.snapshotter, key: chainId });
      return true;
    } catch (err) {
      if (grpcCode(err) === Code.NotFound) return false;
      throw new Error(`failed to stat snapshot ${chainId}: ${message(err)}`);
    }
  }
}

/** snapshots.FilterInheritedLabels: annotations under containerd.io/snapshot/ become snapshot labels. */
function inheritedLabels(layer: Descriptor): Record<string, string> {
  return Object.fromEntries(Object.entries(layer.annotations ?? {}).filter(([k]) => k.startsWith(INHERITED_LABEL_PREFIX)));
}

const message = (err: unknown) => (err as { details?: string }).details || (err as Error).message;
