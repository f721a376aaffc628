import { Metadata, type ServerWritableStream } from '@grpc/grpc-js';
import type { EventLog } from '../log/index.js';
import { publishEvent } from '../commands/published-events.js';
import { parseFilters } from '../filters/index.js';
import { invalidArgument } from '../util/errdefs.js';
import { validateIdentifier } from '../util/identifiers.js';
import { validateTopic } from '../util/topics.js';
import { nowNs } from '../log/index.js';
import { serverStream, unary, type Implementation } from './handlers.js';
import { envelopeFanout, type EnvelopeWrap } from './envelope-fanout.js';
import { fromTimestamp, timestampProblem } from '../api/proto.js';
import { FROM_SEQ_HEADER, header, requestMeta, requireNamespace } from './request.js';
import { SERVICES } from '../api/services.js';

export const EVENTS_SERVICE = SERVICES.events;
export const TTRPC_EVENTS_SERVICE = 'containerd.services.events.ttrpc.v1.Events';

export interface SubscriberGauge {
  inc(): void;
  dec(): void;
}

/**
 * Streams the log as containerd envelopes from `from` on, filtered, with backpressure: a slow
 * client is fed at its own pace straight from the log, never from a buffer in the daemon.
 * `wrap` must be made once, not per call (see EnvelopeWrap).
 */
export async function streamEnvelopes(
  log: EventLog,
  call: ServerWritableStream<unknown, unknown>,
  from: number,
  filters: string[],
  wrap: EnvelopeWrap,
  subscribers?: SubscriberGauge,
): Promise<void> {
  const filter = parseFilters(filters);
  // the headers go now, naming where the stream starts (a client that loses it resumes there), not
  // with the first event: that event would wait for the header frames of every new subscriber
  const position = new Metadata();
  position.set(FROM_SEQ_HEADER, String(from));
  call.sendMetadata(position);
  subscribers?.inc();
  try {
    await envelopeFanout(log).subscribe(call, from, filter, wrap);
  } finally {
    subscribers?.dec();
  }
}

const bareEnvelope: EnvelopeWrap = (_seq, envelope) => envelope;

/** `ledgerd-from-seq: N` resumes a subscription at N; without it a subscription starts now (Events.Subscribe, GetContainerEvents). */
export function subscribeFrom(log: EventLog, value: string | undefined): number {
  if (value === undefined) return log.head + 1;
  if (!/^\d+$/.test(value)) throw invalidArgument(`${FROM_SEQ_HEADER} header "${value}": must be a sequence number`);
  return Number(value);
}

export function eventsService(log: EventLog, subscribers?: SubscriberGauge): Implementation {
  return {
    Publish: unary(async (call) => {
      const namespace = requireNamespace(call);
      validateTopic(String(call.request.topic ?? ''));
      await publishEvent(log, { namespace, topic: call.request.topic, event: call.request.event, time: nowNs() }, requestMeta(call));
      return {};
    }),
    Forward: unary(async (call) => {
      const envelope = call.request.envelope;
      if (!envelope) throw invalidArgument('envelope: must be set');
      validateIdentifier(String(envelope.namespace ?? ''), 'envelope.namespace');
      validateTopic(String(envelope.topic ?? ''));
      const problem = timestampProblem(envelope.timestamp);
      if (problem) throw invalidArgument(`envelope.timestamp: ${problem}`);
      const time = fromTimestamp(envelope.timestamp);
      if (time === undefined) throw invalidArgument('envelope.timestamp: timestamp must be set on forwarded event');
      await publishEvent(log, { namespace: envelope.namespace, topic: envelope.topic, event: envelope.event, time }, requestMeta(call));
      return {};
    }),
    Subscribe: serverStream((call) =>
      streamEnvelopes(
        log,
        call,
        subscribeFrom(log, header(call.metadata, FROM_SEQ_HEADER)),
        call.request.filters ?? [],
        bareEnvelope,
        subscribers,
      ),
    ),
  };
}
