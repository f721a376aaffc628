import type { LeaseCommands } from '../commands/leases.js';
import type { LeaseView } from '../projections/index.js';
import { adaptorFromFields, parseFilters } from '../filters/index.js';
import { unary, type Implementation } from './handlers.js';
import { timestamp } from '../api/proto.js';
import { requestMeta, requireNamespace } from './request.js';
import { SERVICES } from '../api/services.js';

export const LEASES_SERVICE = SERVICES.leases;

const toProto = (lease: LeaseView) => ({ id: lease.id, created_at: timestamp(lease.createdAt), labels: lease.labels });

export function leasesService(leases: LeaseCommands): Implementation {
  return {
    Create: unary(async (call) => {
      const ns = requireNamespace(call);
      return { lease: toProto(await leases.create(ns, String(call.request.id ?? ''), call.request.labels, requestMeta(call))) };
    }),
    Delete: unary(async (call) => {
      await leases.delete(requireNamespace(call), String(call.request.id ?? ''), Boolean(call.request.sync), requestMeta(call));
    }),
    List: unary((call) => {
      const filter = parseFilters(call.request.filters ?? []);
      const matching = leases
        .list(requireNamespace(call))
        .filter((lease) => filter.match(adaptorFromFields({ id: lease.id }, { labels: lease.labels })));
      return { leases: matching.map(toProto) };
    }),
    AddResource: unary(async (call) => {
      await leases.addResource(requireNamespace(call), String(call.request.id ?? ''), call.request.resource, requestMeta(call));
    }),
    DeleteResource: unary(async (call) => {
      await leases.deleteResource(requireNamespace(call), String(call.request.id ?? ''), call.request.resource, requestMeta(call));
    }),
    ListResources: unary((call) => {
      const ns = requireNamespace(call);
      const id = String(call.request.id ?? '');
      const lease = leases.get(ns, id);
      if (!lease) return { resources: [] };
      return { resources: Object.values(lease.resources).map((r) => ({ id: r.id, type: r.type })) };
    }),
  };
}
