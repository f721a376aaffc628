import type { EventLog, LogRecord } from '../log/index.js';
import { verifyLogInBackground } from '../log/index.js';
import { topicOf } from '../events/index.js';
import { parseFilters, type Adaptor } from '../filters/index.js';
import { serverStream, unary, writeWithBackpressure, type Implementation } from './handlers.js';
import { streamEnvelopes, type SubscriberGauge } from './events.js';
import type { EnvelopeWrap } from './envelope-fanout.js';
import { timestamp } from '../api/proto.js';
import { toJson } from '../util/json.js';
import { SERVICES } from '../api/services.js';
import { timeTravelHandlers } from './time-travel.js';

export const LOG_SERVICE = SERVICES.log;

/** Filter fields of a log record: seq, namespace, stream, type, topic, meta.<field> (e.g. meta.peerUid). */
function recordAdaptor(record: LogRecord): Adaptor {
  return {
    field(path) {
      if (path.length === 2 && path[0] === 'meta') {
        const value = record.meta[path[1]!];
        return value === undefined || value === null ? undefined : String(value);
      }
      if (path.length !== 1) return undefined;
      switch (path[0]) {
        case 'seq':
          return String(record.seq);
        case 'namespace':
          return record.namespace;
        case 'stream':
          return record.stream;
        case 'type':
          return record.type;
        case 'topic':
          return topicOf(record.type, record.payload);
        default:
          return undefined;
      }
    },
  };
}

export function toLogRecordMessage(record: LogRecord) {
  return {
    seq: record.seq,
    time: timestamp(record.time),
    namespace: record.namespace,
    stream: record.stream,
    version: record.version,
    type: record.type,
    schema: record.schema,
    topic: topicOf(record.type, record.payload) ?? '',
    payload_json: toJson(record.payload),
    meta_json: toJson(record.meta),
  };
}

const envelopeWithSeq: EnvelopeWrap = (seq, envelope) => ({ seq, envelope });

/** ledgerd's own service: the log's history, its head, its verification, resumable envelopes. */
export function logService(log: EventLog, subscribers?: SubscriberGauge): Implementation {
  return {
    Read: serverStream(async (call) => {
      const filter = parseFilters(call.request.filters ?? []);
      const from = Math.max(1, Number(call.request.from_seq ?? 1));
      const to = Number(call.request.to_seq ?? 0) || Infinity;
      const abort = new AbortController();
      call.on('cancelled', () => abort.abort());
      const records = call.request.follow ? log.follow(from, abort.signal) : log.read(from, Math.min(to, log.head));
      for await (const record of records) {
        if (record.seq > to) break;
        if (filter.match(recordAdaptor(record))) await writeWithBackpressure(call, toLogRecordMessage(record));
        if (call.cancelled) break;
      }
    }),
    Head: unary(() => ({ seq: log.head, first_seq: log.head > 0 ? 1 : 0 })),
    Verify: unary(() => verifyLogInBackground(log)),
    Subscribe: serverStream((call) => {
      const from = Number(call.request.from_seq ?? 0) || log.head + 1;
      return streamEnvelopes(log, call, from, call.request.filters ?? [], envelopeWithSeq, subscribers);
    }),
    ...timeTravelHandlers(log),
  };
}
