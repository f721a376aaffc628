// What a pull tells its caller while it works (the CLI draws its progress from these).
import type { Descriptor } from '../image/descriptor.js';

export type BlobStatus = 'waiting' | 'downloading' | 'done' | 'exists';

export type PullEvent =
  | { readonly type: 'resolving'; readonly name: string }
  | { readonly type: 'resolved'; readonly name: string; readonly desc: Descriptor }
  | {
      readonly type: 'blob';
      /** The ingest ref, e.g. layer-sha256:…, as ctr shows it. */
      readonly key: string;
      readonly desc: Descriptor;
      readonly status: BlobStatus;
      /** Bytes stored so far (a resumed ingest starts above 0). */
      readonly offset: number;
    }
  | { readonly type: 'retry'; readonly key: string; readonly offset: number; readonly reason: string }
  | { readonly type: 'unpack'; readonly platform: string; readonly manifest: Descriptor; readonly status: 'start' | 'done'; readonly chainId?: string }
  | { readonly type: 'layer'; readonly layer: Descriptor; readonly chainId: string; readonly status: 'applied' | 'exists' };

export type PullListener = (event: PullEvent) => void;
