import type { Metadata, ServerDuplexStream, ServerUnaryCall, ServerWritableStream } from '@grpc/grpc-js';
import type { RecordMeta } from '../log/index.js';
import { failedPrecondition } from '../util/errdefs.js';
import { validateIdentifier } from '../util/identifiers.js';
import { LEASE_HEADER, NAMESPACE_HEADER } from '../api/services.js';

export { LEASE_HEADER, NAMESPACE_HEADER };

/** ledgerd's own: resume an Events.Subscribe stream after this sequence number's predecessor. */
export const FROM_SEQ_HEADER = 'ledgerd-from-seq';

type AnyCall = ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown> | ServerDuplexStream<unknown, unknown>;

export function header(metadata: Metadata, key: string): string | undefined {
  const value = metadata.get(key)[0];
  return value === undefined ? undefined : String(value);
}

export function optionalNamespace(call: AnyCall): string | undefined {
  const ns = header(call.metadata, NAMESPACE_HEADER);
  return ns === undefined || ns === '' ? undefined : ns;
}

/** The namespace a namespaced call works in: required, and a valid identifier. */
export function requireNamespace(call: AnyCall): string {
  const ns = optionalNamespace(call);
  if (ns === undefined) throw failedPrecondition('namespace is required');
  validateIdentifier(ns, 'namespace');
  return ns;
}

/** Who asked, for the meta of the records a call appends. */
export function requestMeta(call: AnyCall): RecordMeta {
  const meta: Record<string, unknown> = {};
  const userAgent = header(call.metadata, 'user-agent');
  if (userAgent) meta.userAgent = userAgent;
  const requestId = header(call.metadata, 'x-request-id');
  if (requestId) meta.requestId = requestId;
  const ns = optionalNamespace(call);
  if (ns) meta.requestNamespace = ns;
  Object.assign(meta, peerOf(call.getPeer()));
  return meta;
}

export interface Peer {
  readonly uid: number;
  readonly gid: number;
  readonly pid: number;
}

/** How the daemon's listener names a connection's peer (grpc-js hands it back as the call's peer). */
export const peerAddress = (peer: Peer) => `unix:uid=${peer.uid},gid=${peer.gid},pid=${peer.pid}`;

/** The peer's uid, gid and pid for a record's meta (or the peer as grpc-js reports it). */
function peerOf(peer: string): RecordMeta {
  const match = /^unix:uid=(\d+),gid=(\d+),pid=(\d+)$/.exec(peer);
  if (match) return { peerUid: Number(match[1]), peerGid: Number(match[2]), peerPid: Number(match[3]) };
  return peer && peer !== 'unknown' ? { peer } : {};
}
