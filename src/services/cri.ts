// The CRI's two gRPC services (runtime.v1.RuntimeService, runtime.v1.ImageService): decode,
// call src/cri/, encode. Methods not listed here answer UNIMPLEMENTED (grpc-js's default).
import type { ServerUnaryCall } from '@grpc/grpc-js';
import type { CriConfig } from '../cri/config.js';
import type { CriImage, CriImages } from '../cri/images.js';
import { runtimeStatus, runtimeVersion } from '../cri/runtime-info.js';
import { unary, type Implementation } from './handlers.js';

export const CRI_RUNTIME_SERVICE = 'runtime.v1.RuntimeService';
export const CRI_IMAGE_SERVICE = 'runtime.v1.ImageService';

function imageToProto(image: CriImage) {
  return {
    id: image.id,
    repo_tags: image.repoTags,
    repo_digests: image.repoDigests,
    size: image.size,
    uid: image.uid === undefined ? null : { value: image.uid },
    username: image.username,
    spec: { image: image.id, annotations: {} },
    pinned: false,
  };
}

/** A call whose client went away aborts what it started (a pull stops its downloads). */
function callSignal(call: ServerUnaryCall<unknown, unknown>): AbortSignal {
  const abort = new AbortController();
  call.on('cancelled', () => abort.abort(new Error('the client cancelled the call')));
  return abort.signal;
}

export function criRuntimeService(config: CriConfig): Implementation {
  return {
    Version: unary(() => runtimeVersion()),
    Status: unary(async (call) => {
      const { conditions, info } = await runtimeStatus(config, Boolean(call.request.verbose));
      return { status: { conditions }, info };
    }),
  };
}

export function criImageService(images: CriImages): Implementation {
  return {
    ListImages: unary(async (call) => {
      const wanted = String(call.request.filter?.image?.image ?? '');
      if (wanted) {
        const image = await images.find(wanted);
        return { images: image ? [imageToProto(image)] : [] };
      }
      return { images: (await images.list()).map(imageToProto) };
    }),
    ImageStatus: unary(async (call) => {
      const image = await images.find(String(call.request.image?.image ?? ''));
      if (!image) return { image: null, info: {} };
      const info = call.request.verbose ? { info: JSON.stringify({ imageSpec: image.config }) } : {};
      return { image: imageToProto(image), info };
    }),
    PullImage: unary(async (call) => ({
      image_ref: await images.pull(String(call.request.image?.image ?? ''), call.request.auth ?? undefined, callSignal(call)),
    })),
    RemoveImage: unary(async (call) => {
      await images.remove(String(call.request.image?.image ?? ''));
      return {};
    }),
    ImageFsInfo: unary(async () => {
      const usage = await images.fsUsage();
      return {
        image_filesystems: [
          {
            timestamp: usage.timestamp.toString(),
            fs_id: { mountpoint: usage.mountpoint },
            used_bytes: { value: usage.usedBytes },
            inodes_used: { value: usage.inodesUsed },
          },
        ],
      };
    }),
  };
}
