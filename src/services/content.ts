import { status as Status } from '@grpc/grpc-js';
import type { ContentCommands } from '../commands/content.js';
import type { WriterStatus } from '../commands/content-writer.js';
import type { BlobView } from '../projections/index.js';
import { digestProblem } from '../content/index.js';
import { adaptorFromFields, parseFilters } from '../filters/index.js';
import { LedgerError } from '../util/errdefs.js';
import { writeHandler } from './content-write.js';
import { GrpcStatusError } from './grpc-errors.js';
import { bidiStream, serverStream, unary, writeWithBackpressure, type Implementation } from './handlers.js';
import { timestamp } from '../api/proto.js';
import { header, LEASE_HEADER, requestMeta, requireNamespace } from './request.js';
import { SERVICES } from '../api/services.js';
import { viewReplies } from './view-replies.js';

export const CONTENT_SERVICE = SERVICES.content;

/** containerd sends List results in blocks of at most this many infos. */
const LIST_BLOCK = 100;

function infoToProto(blob: BlobView) {
  return {
    digest: blob.digest,
    size: blob.size,
    created_at: timestamp(blob.createdAt),
    updated_at: timestamp(blob.updatedAt),
    labels: blob.labels,
  };
}

const infoReply = viewReplies((blob: BlobView) => ({ info: infoToProto(blob) }));

function statusToProto(status: WriterStatus) {
  return {
    started_at: timestamp(status.startedAt),
    updated_at: timestamp(status.updatedAt),
    ref: status.ref,
    offset: status.offset,
    total: status.total,
    expected: status.expected ?? '',
  };
}

/** Filter fields of content (content.AdaptInfo): digest and labels.<k>; size is not supported. */
export const infoAdaptor = (blob: BlobView) => adaptorFromFields({ digest: blob.digest }, { labels: blob.labels });
/** Filter fields of an ingest: ref. */
export const statusAdaptor = (status: WriterStatus) => adaptorFromFields({ ref: status.ref });

/** Go's %q, near enough for digests and refs. */
const quote = (value: string) => JSON.stringify(value);

/** The content server's own digest check, with its exact texts (they carry no class suffix). */
function checkDigest(digest: string, message: (problem: string) => string): void {
  const problem = digestProblem(digest);
  if (problem) throw new GrpcStatusError(Status.INVALID_ARGUMENT, message(problem));
}

const lease = (call: Parameters<typeof requestMeta>[0]) => header(call.metadata, LEASE_HEADER) || undefined;

export function contentService(content: ContentCommands): Implementation {
  return {
    Info: unary((call) => {
      const digest = String(call.request.digest ?? '');
      checkDigest(digest, () => `${quote(digest)} failed validation`);
      return infoReply(content.info(requireNamespace(call), digest));
    }),

    Update: unary(async (call) => {
      const info = call.request.info ?? {};
      const digest = String(info.digest ?? '');
      checkDigest(digest, () => `${quote(digest)} failed validation`);
      const paths: string[] = call.request.update_mask?.paths ?? [];
      const updated = await content.update(requireNamespace(call), { digest, labels: info.labels ?? {} }, paths, requestMeta(call));
      return { info: infoToProto(updated) };
    }),

    List: serverStream(async (call) => {
      const namespace = requireNamespace(call);
      const filter = parseFilters(call.request.filters ?? []);
      const blobs = content.list(namespace).filter((blob) => filter.match(infoAdaptor(blob)));
      for (let i = 0; i < blobs.length && !call.cancelled; i += LIST_BLOCK) {
        await writeWithBackpressure(call, { info: blobs.slice(i, i + LIST_BLOCK).map(infoToProto) });
      }
    }),

    Delete: unary(async (call) => {
      const digest = String(call.request.digest ?? '');
      checkDigest(digest, (problem) => problem);
      await content.delete(requireNamespace(call), digest, lease(call), requestMeta(call));
      return {};
    }),

    /**
     * Read{digest, offset, size}: offset < 0 reads from 0, offset past the end is OutOfRange,
     * size <= 0 or past the end reads to the end. As in containerd, each response's offset
     * counts from the requested offset (the first is 0), not from the start of the blob.
     */
    Read: serverStream(async (call) => {
      const digest = String(call.request.digest ?? '');
      checkDigest(digest, (problem) => `${digest}: ${problem}`);
      const namespace = requireNamespace(call);
      const blob = content.info(namespace, digest);
      const offset = Math.max(Number(call.request.offset) || 0, 0);
      let size = Number(call.request.size) || 0;
      if (offset > blob.size) throw new GrpcStatusError(Status.OUT_OF_RANGE, `read past object length ${blob.size} bytes`);
      if (size <= 0 || offset + size > blob.size) size = blob.size - offset;
      // a manifest or config: one message, written in this turn, no file opened when it was read before
      const small = content.readSmall(namespace, digest, offset, size);
      if (small) {
        if (small.length > 0) call.write({ offset: 0, data: small });
        return;
      }
      let sent = 0;
      for await (const data of content.read(namespace, digest, offset, size)) {
        if (call.cancelled) break;
        await writeWithBackpressure(call, { offset: sent, data });
        sent += data.length;
      }
    }),

    Status: unary(async (call) => {
      const ref = String(call.request.ref ?? '');
      try {
        return { status: statusToProto(await content.status(requireNamespace(call), ref)) };
      } catch (err) {
        if (err instanceof LedgerError) throw new LedgerError(err.kind, `could not get status for ref ${quote(ref)}: ${err.message}`);
        throw err;
      }
    }),

    ListStatuses: unary(async (call) => {
      const namespace = requireNamespace(call);
      const filter = parseFilters(call.request.filters ?? []);
      const statuses = (await content.listStatuses(namespace)).filter((s) => filter.match(statusAdaptor(s)));
      return { statuses: statuses.map(statusToProto) };
    }),

    Write: bidiStream(writeHandler(content)),

    Abort: unary(async (call) => {
      await content.abort(requireNamespace(call), String(call.request.ref ?? ''), lease(call), requestMeta(call));
      return {};
    }),
  };
}
