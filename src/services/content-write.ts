import { status as Status, type ServerDuplexStream } from '@grpc/grpc-js';
import type { ContentCommands } from '../commands/content.js';
import { GrpcStatusError } from './grpc-errors.js';
import { messageReader, writeWithBackpressure, type BidiStream } from './handlers.js';
import { timestamp } from '../api/proto.js';
import { header, LEASE_HEADER, requestMeta, requireNamespace } from './request.js';

interface WriteRequest {
  action: 'STAT' | 'WRITE' | 'COMMIT' | number;
  ref: string;
  total: number;
  expected: string;
  offset: number;
  data: Buffer;
  labels: Record<string, string>;
}

/**
 * Content.Write, the bidirectional upload protocol of containerd's content server
 * (services/content/contentserver/contentserver.go Write), message by message:
 *
 *  - the first message names the ref (else InvalidArgument) and declares total/expected; the
 *    writer is opened with them (AlreadyExists, Unavailable while another writer holds the ref);
 *  - every request gets one response with the same action and the current offset;
 *  - an `expected` digest that by now exists in the namespace aborts the ingest: AlreadyExists;
 *  - STAT (the proto default) reports digest so far, times and total, writes nothing;
 *  - WRITE/COMMIT: a non-zero offset must be the current one (OutOfRange); offset 0 with data
 *    already written restarts the upload; data is appended; COMMIT verifies and commits, answers,
 *    and ends the call.
 *
 * A stream that breaks or errs leaves the ingest on disk for a resume, and releases the ref.
 * containerd sends one extra copy of the last response on a successful end; Go clients never read
 * it, so ledgerd does not send it.
 */
export function writeHandler(content: ContentCommands): BidiStream {
  return async (call: ServerDuplexStream<WriteRequest, unknown>) => {
    const next = messageReader(call);
    let request = await next();
    if (!request) return;
    const ref = request.ref;
    if (!ref) throw new GrpcStatusError(Status.INVALID_ARGUMENT, 'first message must have a reference');
    const namespace = requireNamespace(call);
    const lease = header(call.metadata, LEASE_HEADER) || undefined;
    const meta = requestMeta(call);
    let total = Number(request.total) || 0;
    let expected = request.expected || undefined;

    const writer = await content.writer(namespace, { ref, total, expected }, lease, meta);
    // one response message for the whole call, as in containerd: what a STAT filled in (times,
    // total) stays in the later responses
    const response = { action: request.action, offset: 0, started_at: timestamp(undefined), updated_at: timestamp(undefined), total: 0, digest: '' };
    try {
      for (;;) {
        const status = writer.status();
        response.action = request.action;
        response.offset = status.offset;
        if (request.expected) {
          expected = request.expected;
          if (content.exists(namespace, expected)) {
            await writer.close();
            await content.abort(namespace, ref, undefined, meta).catch(() => undefined);
            throw new GrpcStatusError(Status.ALREADY_EXISTS, `blob with expected digest ${expected} exists`);
          }
        }
        if (Number(request.total) > 0) total = Number(request.total);

        const action = request.action;
        if (action === 'STAT') {
          response.digest = writer.digest();
          response.started_at = timestamp(status.startedAt);
          response.updated_at = timestamp(status.updatedAt);
          response.total = total;
        } else if (action === 'WRITE' || action === 'COMMIT') {
          const offset = Number(request.offset) || 0;
          if (offset > 0 && offset !== status.offset) {
            throw new GrpcStatusError(Status.OUT_OF_RANGE, `write @${offset} must occur at current offset ${status.offset}`);
          }
          if (offset === 0 && status.offset > 0) {
            await writer.truncate(0);
            response.offset = 0;
          }
          const data = request.data ?? Buffer.alloc(0);
          if (data.length > 0) {
            const written = await writer.write(data);
            if (written !== data.length) throw new GrpcStatusError(Status.DATA_LOSS, `wrote ${written} of ${data.length} bytes`);
            response.offset += written;
          }
          if (action === 'COMMIT') await writer.commit(total, expected, request.labels, meta);
          response.digest = writer.digest();
        }

        await writeWithBackpressure(call, { ...response });
        if (action === 'COMMIT') return;
        request = await next();
        if (!request) return;
      }
    } finally {
      await writer.close();
    }
  };
}
