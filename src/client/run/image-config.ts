// From an image name to what running it needs: the config and the top snapshot's chain ID.
import { resolveImage } from '../image/inspect.js';
import { chainId } from '../image/manifest.js';
import { defaultMatcher, type PlatformMatcher } from '../image/platforms.js';
import { getImage } from '../image/store.js';
import type { Rpc } from '../rpc.js';
import type { ImageRunConfig } from './oci-spec.js';

export interface RunnableImage {
  readonly name: string;
  readonly config: ImageRunConfig;
  /** identity.ChainID of the layers' diff IDs: the committed snapshot an unpack made. */
  readonly chainId: string;
}

export async function runnableImage(rpc: Rpc, name: string, matcher: PlatformMatcher = defaultMatcher()): Promise<RunnableImage> {
  const image = await getImage(rpc, name);
  const { image: config } = await resolveImage(rpc, image.target, matcher);
  return { name: image.name, config: (config.config ?? {}) as ImageRunConfig, chainId: chainId(config.rootfs?.diff_ids ?? []) };
}
