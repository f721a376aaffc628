import type { ImageCommands, ImageInput } from '../commands/images.js';
import type { ImageView } from '../projections/index.js';
import { adaptorFromFields, parseFilters } from '../filters/index.js';
import { notFound } from '../util/errdefs.js';
import { unary, type Implementation } from './handlers.js';
import { timestamp } from '../api/proto.js';
import { requestMeta, requireNamespace } from './request.js';
import { SERVICES } from '../api/services.js';
import { viewReplies } from './view-replies.js';

export const IMAGES_SERVICE = SERVICES.images;

function toProto(image: ImageView) {
  return {
    name: image.name,
    labels: image.labels,
    target: {
      media_type: image.target.mediaType,
      digest: image.target.digest,
      size: image.target.size,
      annotations: image.target.annotations,
    },
    created_at: timestamp(image.createdAt),
    updated_at: timestamp(image.updatedAt),
  };
}

const getReply = viewReplies((image: ImageView) => ({ image: toProto(image) }));

function fromProto(image: Record<string, any> | undefined): ImageInput {
  const target = image?.target;
  return {
    name: String(image?.name ?? ''),
    labels: image?.labels,
    target: target && { mediaType: target.media_type, digest: target.digest, size: Number(target.size), annotations: target.annotations },
  };
}

/** Filter fields of an image (metadata/adaptors.go): name, target.digest, target.mediatype, labels.*, annotations.* */
const imageAdaptor = (image: ImageView) =>
  adaptorFromFields(
    { name: image.name, 'target.digest': image.target.digest, 'target.mediatype': image.target.mediaType },
    { labels: image.labels, annotations: image.target.annotations },
  );

export function imagesService(images: ImageCommands): Implementation {
  return {
    Get: unary((call) => {
      const ns = requireNamespace(call);
      const image = images.get(ns, String(call.request.name ?? ''));
      if (!image) throw notFound(`image "${call.request.name}"`);
      return getReply(image);
    }),
    List: unary((call) => {
      const filter = parseFilters(call.request.filters ?? []);
      return { images: images.list(requireNamespace(call)).filter((i) => filter.match(imageAdaptor(i))).map(toProto) };
    }),
    Create: unary(async (call) => ({
      image: toProto(await images.create(requireNamespace(call), fromProto(call.request.image), requestMeta(call))),
    })),
    Update: unary(async (call) => ({
      image: toProto(
        await images.update(requireNamespace(call), fromProto(call.request.image), call.request.update_mask?.paths ?? [], requestMeta(call)),
      ),
    })),
    Delete: unary(async (call) => {
      await images.delete(requireNamespace(call), String(call.request.name ?? ''), Boolean(call.request.sync), requestMeta(call));
    }),
  };
}
