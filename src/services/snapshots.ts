import type { ServerWritableStream } from '@grpc/grpc-js';
import type { SnapshotCommands } from '../commands/snapshots.js';
import type { SnapshotInfo, SnapshotKind, Snapshotter, WriteOptions } from '../snapshots/index.js';
import type { Mount } from '../util/mount/index.js';
import { adaptorFromFields, parseFilters } from '../filters/index.js';
import { serverStream, unary, writeWithBackpressure, type Implementation } from './handlers.js';
import { timestamp } from '../api/proto.js';
import { header, LEASE_HEADER, requestMeta, requireNamespace } from './request.js';
import { SERVICES } from '../api/services.js';

export const SNAPSHOTS_SERVICE = SERVICES.snapshots;

/** containerd sends List replies in blocks of this many Info. */
const LIST_BATCH = 100;

const KINDS: Record<SnapshotKind, string> = { view: 'VIEW', active: 'ACTIVE', committed: 'COMMITTED' };

function toProto(info: SnapshotInfo) {
  return {
    name: info.name,
    parent: info.parent,
    kind: KINDS[info.kind],
    created_at: timestamp(info.createdAt),
    updated_at: timestamp(info.updatedAt),
    labels: info.labels,
  };
}

/** Mounts as the wire carries them; the target is always empty in snapshot mounts. */
const toMounts = (mounts: Mount[]) => mounts.map((m) => ({ type: m.type, source: m.source, target: '', options: [...m.options] }));

/** Filter fields of a snapshot (metadata/adaptors.go adaptSnapshot): kind, name, parent, labels.* */
const snapshotAdaptor = (info: SnapshotInfo) =>
  adaptorFromFields({ kind: info.kind, name: info.name, parent: info.parent }, { labels: info.labels });

type AnyCall = Parameters<typeof requestMeta>[0];

/** The snapshotter, the namespace, and who is asking under which lease: in containerd's order of checks. */
function target(snapshots: SnapshotCommands, call: AnyCall & { request: any }): { sn: Snapshotter; ns: string } {
  const sn = snapshots.get(String(call.request.snapshotter ?? ''));
  return { sn, ns: requireNamespace(call) };
}

function writeOptions(call: AnyCall, labels?: Record<string, string>): WriteOptions {
  const lease = header(call.metadata, LEASE_HEADER);
  return { labels, meta: requestMeta(call), ...(lease ? { lease } : {}) };
}

/**
 * containerd.services.snapshots.v1.Snapshots. Cleanup is implemented (containerd 1.6 answers
 * Unimplemented because its service wrapper hides the backend's Cleaner; 1.7 exposes it): it
 * deletes directories no snapshot owns.
 */
export function snapshotsService(snapshots: SnapshotCommands): Implementation {
  return {
    Prepare: unary(async (call) => {
      const { sn, ns } = target(snapshots, call);
      const r = call.request;
      return { mounts: toMounts(await sn.prepare(ns, String(r.key ?? ''), String(r.parent ?? ''), writeOptions(call, r.labels))) };
    }),
    View: unary(async (call) => {
      const { sn, ns } = target(snapshots, call);
      const r = call.request;
      return { mounts: toMounts(await sn.view(ns, String(r.key ?? ''), String(r.parent ?? ''), writeOptions(call, r.labels))) };
    }),
    Mounts: unary(async (call) => {
      const { sn, ns } = target(snapshots, call);
      return { mounts: toMounts(await sn.mounts(ns, String(call.request.key ?? ''))) };
    }),
    Commit: unary(async (call) => {
      const { sn, ns } = target(snapshots, call);
      const r = call.request;
      await sn.commit(ns, String(r.name ?? ''), String(r.key ?? ''), writeOptions(call, r.labels));
    }),
    Remove: unary(async (call) => {
      const { sn, ns } = target(snapshots, call);
      await sn.remove(ns, String(call.request.key ?? ''), writeOptions(call));
    }),
    Stat: unary(async (call) => {
      const { sn, ns } = target(snapshots, call);
      return { info: toProto(await sn.stat(ns, String(call.request.key ?? ''))) };
    }),
    Update: unary(async (call) => {
      const { sn, ns } = target(snapshots, call);
      const info = call.request.info ?? {};
      const paths: string[] = call.request.update_mask?.paths ?? [];
      const updated = await sn.update(ns, { name: String(info.name ?? ''), labels: info.labels }, paths, writeOptions(call));
      return { info: toProto(updated) };
    }),
    List: serverStream(async (call: ServerWritableStream<any, any>) => {
      const { sn, ns } = target(snapshots, call);
      const filter = parseFilters(call.request.filters ?? []);
      const infos = await sn.list(ns, (info) => filter.match(snapshotAdaptor(info)));
      for (let i = 0; i < infos.length && !call.cancelled; i += LIST_BATCH) {
        await writeWithBackpressure(call, { info: infos.slice(i, i + LIST_BATCH).map(toProto) });
      }
    }),
    Usage: unary(async (call) => {
      const { sn, ns } = target(snapshots, call);
      const usage = await sn.usage(ns, String(call.request.key ?? ''));
      return { size: usage.size, inodes: usage.inodes };
    }),
    Cleanup: unary(async (call) => {
      const sn = snapshots.get(String(call.request.snapshotter ?? ''));
      await sn.cleanup();
    }),
  };
}
