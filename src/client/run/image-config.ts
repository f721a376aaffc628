// From an image name to what running it needs: the config and the top snapshot's chain ID.
import { createHash } from 'node:crypto';
import { readBlob, SERVICES, type Rpc } from '../rpc.js';
import type { ImageRunConfig } from './oci-spec.js';

interface Descriptor {
  media_type?: string;
  mediaType?: string;
  digest: string;
  size?: number;
  platform?: { os: string; architecture: string; variant?: string };
}

export interface RunnableImage {
  readonly name: string;
  readonly config: ImageRunConfig;
  /** identity.ChainID of the layers' diff IDs: the committed snapshot an unpack made. */
  readonly chainId: string;
}

const GOARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x' };
export const hostPlatform = () => ({ os: 'linux', architecture: GOARCH[process.arch] ?? process.arch });

/** containerd's identity.ChainID: chain(n) = sha256(chain(n-1) + " " + diffID(n)). */
export function chainId(diffIds: readonly string[]): string {
  return diffIds.reduce((chain, diffId) => (chain ? `sha256:${createHash('sha256').update(`${chain} ${diffId}`).digest('hex')}` : diffId), '');
}

export async function runnableImage(rpc: Rpc, name: string, platform = hostPlatform()): Promise<RunnableImage> {
  const { image } = await rpc.unary<{ image: { name: string; target: Descriptor } }>(SERVICES.images, 'Get', { name });
  let manifest = JSON.parse((await readBlob(rpc, image.target.digest)).toString('utf8'));
  if (Array.isArray(manifest.manifests)) {
    const chosen = (manifest.manifests as Descriptor[]).find((m) => m.platform?.os === platform.os && m.platform.architecture === platform.architecture);
    if (!chosen) throw new Error(`image ${name} has no manifest for ${platform.os}/${platform.architecture}`);
    manifest = JSON.parse((await readBlob(rpc, chosen.digest)).toString('utf8'));
  }
  const config = JSON.parse((await readBlob(rpc, (manifest.config as Descriptor).digest)).toString('utf8'));
  return { name: image.name, config: config.config ?? {}, chainId: chainId(config.rootfs?.diff_ids ?? []) };
}
