import type { GarbageCollector } from '../gc/collector.js';
import type { GcNode, NodeKind, Sweep } from '../gc/reference-graph.js';
import { invalidArgument } from '../util/errdefs.js';
import { unary, type Implementation } from './handlers.js';
import { timestamp } from '../api/proto.js';
import { SERVICES } from '../api/services.js';

export const GC_SERVICE = SERVICES.gc;

const KINDS: readonly NodeKind[] = ['content', 'snapshot', 'lease', 'ingest'];

function node(request: { kind?: string; namespace?: string; key?: string } | undefined): GcNode {
  const kind = request?.kind as NodeKind;
  if (!KINDS.includes(kind)) throw invalidArgument(`node.kind "${request?.kind ?? ''}": must be content, snapshot, lease or ingest`);
  if (!request?.namespace) throw invalidArgument('node.namespace: must be set');
  if (!request.key) throw invalidArgument('node.key: must be set');
  return { kind, namespace: request.namespace, key: request.key };
}

/** In the order a collection deletes them. */
const swept = (sweep: Sweep): GcNode[] => [...sweep.leases, ...sweep.snapshots, ...sweep.ingests, ...sweep.content];

export function gcService(collector: GarbageCollector): Implementation {
  return {
    Collect: unary(async (call) => {
      if (call.request.dry_run) {
        const { sweep } = collector.plan();
        return { seq: 0, deleted: swept(sweep), failures: [], milliseconds: 0, files: [] };
      }
      const collection = await collector.collect();
      return { seq: collection.seq, deleted: swept(collection.deleted), failures: collection.failures, milliseconds: collection.ms, files: collection.files };
    }),
    Why: unary((call) => {
      const explanation = collector.explain(node(call.request.node));
      const deleted = explanation.deletedBy;
      return {
        exists: explanation.exists,
        alive: explanation.alive,
        chain: explanation.chain,
        deleted_seq: deleted?.seq ?? 0,
        deleted_at: deleted ? timestamp(deleted.time) : null,
        deleted_by: deleted ? `${deleted.type}${deleted.meta.reason ? ` (reason ${String(deleted.meta.reason)}, collection at seq ${String(deleted.meta.gcSeq)})` : ''}` : '',
      };
    }),
  };
}
