import type { NamespaceCommands } from '../commands/namespaces.js';
import type { NamespaceView } from '../projections/index.js';
import { unary, type Implementation } from './handlers.js';
import { requestMeta } from './request.js';
import { SERVICES } from '../api/services.js';

export const NAMESPACES_SERVICE = SERVICES.namespaces;

const toProto = (ns: NamespaceView) => ({ name: ns.name, labels: ns.labels });

export function namespacesService(namespaces: NamespaceCommands): Implementation {
  return {
    Get: unary((call) => ({ namespace: toProto(namespaces.get(String(call.request.name ?? ''))) })),
    List: unary(() => ({ namespaces: namespaces.list().map(toProto) })),
    Create: unary(async (call) => {
      const ns = call.request.namespace ?? {};
      return { namespace: toProto(await namespaces.create(ns.name ?? '', ns.labels, requestMeta(call))) };
    }),
    Update: unary(async (call) => {
      const ns = call.request.namespace ?? {};
      const paths: string[] = call.request.update_mask?.paths ?? [];
      return { namespace: toProto(await namespaces.update(ns.name ?? '', ns.labels, paths, requestMeta(call))) };
    }),
    Delete: unary(async (call) => {
      await namespaces.delete(String(call.request.name ?? ''), requestMeta(call));
      return {};
    }),
  };
}
