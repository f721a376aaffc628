// Image records through the Images service.
import { fromWire, toWire, type Descriptor, type WireDescriptor } from './descriptor.js';
import { grpcCode, SERVICES, type Rpc } from '../rpc.js';
import { Code } from '../../util/grpc-codes.js';

export interface ImageRecord {
  readonly name: string;
  readonly target: Descriptor;
  readonly labels: Record<string, string>;
  readonly createdAt?: Date;
  readonly updatedAt?: Date;
}

interface WireImage {
  name: string;
  labels?: Record<string, string>;
  target?: WireDescriptor;
  created_at?: { seconds?: number | string; nanos?: number };
  updated_at?: { seconds?: number | string; nanos?: number };
}

const toDate = (ts: WireImage['created_at']) => (ts ? new Date(Number(ts.seconds ?? 0) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6)) : undefined);

const fromWireImage = (image: WireImage): ImageRecord => ({
  name: image.name,
  target: fromWire(image.target),
  labels: image.labels ?? {},
  createdAt: toDate(image.created_at),
  updatedAt: toDate(image.updated_at),
});

/** Create, or replace an existing record of that name (ctr's createImage: Update without a mask). */
export async function saveImage(rpc: Rpc, image: { name: string; target: Descriptor; labels: Record<string, string> }): Promise<ImageRecord> {
  const wire = { name: image.name, labels: image.labels, target: toWire(image.target) };
  for (let attempt = 0; ; attempt++) {
    try {
      return fromWireImage((await rpc.unary<{ image: WireImage }>(SERVICES.images, 'Create', { image: wire })).image);
    } catch (err) {
      if (grpcCode(err) !== Code.AlreadyExists) throw err;
    }
    try {
      return fromWireImage((await rpc.unary<{ image: WireImage }>(SERVICES.images, 'Update', { image: wire })).image);
    } catch (err) {
      // deleted between the two calls: create again
      if (grpcCode(err) !== Code.NotFound || attempt > 2) throw err;
    }
  }
}

export async function listImages(rpc: Rpc, filters: readonly string[] = []): Promise<ImageRecord[]> {
  const { images } = await rpc.unary<{ images: WireImage[] }>(SERVICES.images, 'List', { filters });
  return (images ?? []).map(fromWireImage);
}

export async function getImage(rpc: Rpc, name: string): Promise<ImageRecord> {
  return fromWireImage((await rpc.unary<{ image: WireImage }>(SERVICES.images, 'Get', { name })).image);
}
