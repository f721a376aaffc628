import type { ContainerCommands, ContainerInput } from '../commands/containers.js';
import type { AnyValue } from '../events/index.js';
import type { ContainerView } from '../projections/index.js';
import { adaptorFromFields, parseFilters } from '../filters/index.js';
import { serverStream, unary, writeWithBackpressure, type Implementation } from './handlers.js';
import { timestamp } from '../api/proto.js';
import { requestMeta, requireNamespace } from './request.js';
import { SERVICES } from '../api/services.js';
import { viewReplies } from './view-replies.js';

export const CONTAINERS_SERVICE = SERVICES.containers;

interface WireAny {
  type_url?: string;
  value?: Uint8Array;
}

const anyFromWire = (any: WireAny | null | undefined): AnyValue | undefined =>
  any ? { typeUrl: any.type_url ?? '', value: Buffer.from(any.value ?? []) } : undefined;
const anyToWire = (any: AnyValue | undefined) => (any ? { type_url: any.typeUrl, value: Buffer.from(any.value) } : null);

function toProto(container: ContainerView) {
  return {
    id: container.id,
    labels: container.labels,
    image: container.image,
    runtime: { name: container.runtime.name, options: anyToWire(container.runtime.options) },
    spec: anyToWire(container.spec),
    snapshotter: container.snapshotter,
    snapshot_key: container.snapshotKey,
    created_at: timestamp(container.createdAt),
    updated_at: timestamp(container.updatedAt),
    extensions: Object.fromEntries(Object.entries(container.extensions).map(([k, v]) => [k, anyToWire(v)])),
  };
}

const getReply = viewReplies((container: ContainerView) => ({ container: toProto(container) }));

function fromProto(container: Record<string, any> | null | undefined): ContainerInput {
  return {
    id: container?.id ?? '',
    labels: container?.labels ?? {},
    image: container?.image ?? '',
    runtime: container?.runtime ? { name: container.runtime.name ?? '', options: anyFromWire(container.runtime.options) } : undefined,
    spec: anyFromWire(container?.spec),
    snapshotter: container?.snapshotter ?? '',
    snapshotKey: container?.snapshot_key ?? '',
    extensions: Object.fromEntries(Object.entries((container?.extensions ?? {}) as Record<string, WireAny>).map(([k, v]) => [k, anyFromWire(v)!])),
  };
}

/** Filter fields of a container (metadata/adaptors.go adaptContainer): id, runtime.name, image, labels.* */
const containerAdaptor = (c: ContainerView) => adaptorFromFields({ id: c.id, 'runtime.name': c.runtime.name, image: c.image }, { labels: c.labels });

function listed(containers: ContainerCommands, call: Parameters<typeof requireNamespace>[0] & { request: { filters?: string[] } }): ContainerView[] {
  const filter = parseFilters(call.request.filters ?? []);
  return containers.list(requireNamespace(call)).filter((c) => filter.match(containerAdaptor(c)));
}

export function containersService(containers: ContainerCommands): Implementation {
  return {
    Get: unary((call) => getReply(containers.get(requireNamespace(call), String(call.request.id ?? '')))),
    List: unary((call) => ({ containers: listed(containers, call).map(toProto) })),
    ListStream: serverStream(async (call) => {
      for (const container of listed(containers, call)) await writeWithBackpressure(call, { container: toProto(container) });
    }),
    Create: unary(async (call) => ({
      container: toProto(await containers.create(requireNamespace(call), fromProto(call.request.container), requestMeta(call))),
    })),
    Update: unary(async (call) => {
      const input = fromProto(call.request.container);
      const ns = requireNamespace(call);
      return { container: toProto(await containers.update(ns, input, call.request.update_mask?.paths ?? [], requestMeta(call))) };
    }),
    Delete: unary(async (call) => {
      await containers.delete(requireNamespace(call), String(call.request.id ?? ''), requestMeta(call));
    }),
  };
}
