import type { DiffCommands, Descriptor } from '../commands/diff.js';
import type { Mount } from '../util/mount/index.js';
import { unary, type Implementation } from './handlers.js';
import { header, LEASE_HEADER, requestMeta, requireNamespace } from './request.js';
import { SERVICES } from '../api/services.js';

export const DIFF_SERVICE = SERVICES.diff;

interface WireDescriptor {
  media_type?: string;
  digest?: string;
  size?: number | string;
}

interface WireMount {
  type?: string;
  source?: string;
  target?: string;
  options?: string[];
}

const fromWire = (d: WireDescriptor | undefined): Descriptor => ({ mediaType: d?.media_type ?? '', digest: d?.digest ?? '', size: Number(d?.size ?? 0) });
const toWire = (d: Descriptor) => ({ media_type: d.mediaType, digest: d.digest, size: d.size, annotations: {} });
const mounts = (list: WireMount[] | undefined): Mount[] => (list ?? []).map((m) => ({ type: m.type ?? '', source: m.source ?? '', target: m.target ?? '', options: m.options ?? [] }));

/** containerd.services.diff.v1.Diff: Apply and Diff (payloads, for stream processors, are not used). */
export function diffService(diff: DiffCommands): Implementation {
  return {
    Apply: unary(async (call) => {
      const ns = requireNamespace(call);
      const abort = new AbortController();
      call.on('cancelled', () => abort.abort(new Error('the client cancelled Apply')));
      return { applied: toWire(await diff.apply(ns, fromWire(call.request.diff), mounts(call.request.mounts), abort.signal)) };
    }),
    Diff: unary(async (call) => {
      const ns = requireNamespace(call);
      const r = call.request;
      const result = await diff.diff(
        ns,
        { left: mounts(r.left), right: mounts(r.right), mediaType: r.media_type ?? '', ref: r.ref ?? '', labels: r.labels ?? {} },
        header(call.metadata, LEASE_HEADER),
        requestMeta(call),
      );
      return { diff: toWire(result) };
    }),
  };
}
