import type { ServerWritableStream } from '@grpc/grpc-js';
import type { Subscription } from 'rxjs';
import type { EventLog, LogRecord } from '../log/index.js';
import type { Filter } from '../filters/index.js';
import { unchangingMessage } from '../api/proto.js';
import { cachedEnvelope, envelopeAdaptor, type Envelope } from './envelopes.js';
import { drained } from './handlers.js';

/**
 * The message a subscriber is sent for an envelope. It must be a function made once (not per
 * call): its result is cached per record and encoded once for every subscriber sharing it.
 */
export type EnvelopeWrap = (seq: number, envelope: Envelope) => object;

interface Subscriber {
  readonly call: ServerWritableStream<unknown, unknown>;
  readonly filter: Filter;
  readonly wrap: EnvelopeWrap;
  /** The next seq this subscriber is to be shown. */
  next: number;
  ended: boolean;
  settle: (err?: unknown) => void;
}

const READ_BATCH = 1024;

/**
 * One follower of the log's commits for every envelope subscriber of a log: each new record is
 * translated and encoded once and written, in the turn its batch became durable, to every
 * subscriber that is up to date and whose filters take it (a hundred `ctr events` cost one read, one encoding and a hundred
 * writes, not a hundred readers). A subscriber that is behind (resuming from an older seq, or
 * whose transport is full) reads the log itself at its own pace until it has reached the fan-out
 * again, so a slow client costs the daemon no buffering and misses nothing.
 */
export class EnvelopeFanout {
  /** The next seq the fan-out delivers; every live subscriber has been shown all before it. */
  private position = 0;
  private following = false;
  private subscription: Subscription | undefined;
  private readonly subscribers = new Set<Subscriber>();
  /** The subscribers the fan-out writes to: those that have been shown everything before `position`. */
  private readonly live = new Set<Subscriber>();

  constructor(private readonly log: EventLog) {}

  /** Streams envelopes from `from` on until the call ends or the log closes. */
  subscribe(call: ServerWritableStream<unknown, unknown>, from: number, filter: Filter, wrap: EnvelopeWrap): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const subscriber: Subscriber = {
        call,
        filter,
        wrap,
        next: Math.max(from, 1),
        ended: false,
        settle: (err) => {
          if (subscriber.ended) return;
          subscriber.ended = true;
          this.subscribers.delete(subscriber);
          this.live.delete(subscriber);
          if (err === undefined) resolve();
          else reject(err);
        },
      };
      this.subscribers.add(subscriber);
      const gone = () => subscriber.settle();
      call.once('cancelled', gone);
      call.once('close', gone);
      this.catchUp(subscriber).catch((err: unknown) => subscriber.settle(err));
    });
  }

  private start(): void {
    if (this.following) return;
    this.following = true;
    this.position = this.log.head + 1;
    // a log already closed completes at once, inside subscribe()
    const subscription = this.log.committed$.subscribe({
      next: (records) => this.committed(records),
      complete: () => this.stopped(),
    });
    if (this.following) this.subscription = subscription;
  }

  /** The log closed (or failed): every subscription ends, as a reader of the log would. */
  private stopped(err?: unknown): void {
    this.following = false;
    this.subscription?.unsubscribe();
    this.subscription = undefined;
    for (const subscriber of [...this.subscribers]) subscriber.settle(err);
  }

  /**
   * A batch has just become durable: its records go to the live subscribers now, in this turn,
   * before the appender's caller hears of it. The records are those the log decoded once for
   * every reader at the head; none is read back from LMDB.
   */
  private committed(records: readonly LogRecord[]): void {
    try {
      const first = records[0]?.seq ?? this.position;
      // batches come in order; should one have been missed, what it held is read from the log
      if (first > this.position) for (const record of [...this.log.read(this.position, first - 1)]) this.take(record);
      for (const record of records) this.take(record);
    } catch (err) {
      this.stopped(err);
    }
  }

  private take(record: LogRecord): void {
    if (record.seq < this.position) return;
    this.position = record.seq + 1;
    if (this.live.size > 0) this.deliver(record);
  }

  private deliver(record: LogRecord): void {
    const translated = cachedEnvelope(this.log, record);
    if (!translated) return;
    const adaptor = envelopeAdaptor(translated);
    let messages: Map<EnvelopeWrap, object> | undefined;
    for (const subscriber of this.live) {
      if (record.seq < subscriber.next) continue;
      subscriber.next = record.seq + 1;
      if (!subscriber.filter.match(adaptor)) continue;
      const { wrap } = subscriber;
      let message = messages?.get(wrap);
      if (!message) (messages ??= new Map()).set(wrap, (message = unchangingMessage(wrap(record.seq, translated.envelope))));
      if (!this.write(subscriber, message)) {
        this.live.delete(subscriber);
        this.catchUp(subscriber, true).catch((err: unknown) => subscriber.settle(err));
      }
    }
  }

  /** Writes one message; false when the subscriber's transport is full (or it is gone). */
  private write(subscriber: Subscriber, message: object): boolean {
    const { call } = subscriber;
    if (call.cancelled || call.destroyed || call.writableEnded) {
      subscriber.settle();
      return true;
    }
    return call.write(message);
  }

  /** Reads the log for a subscriber behind the fan-out, then hands it to the fan-out. */
  private async catchUp(subscriber: Subscriber, full = false): Promise<void> {
    if (full) await drained(subscriber.call);
    while (!subscriber.ended) {
      // after the fan-out stopped (the log closed or failed), a new one starts at the head
      this.start();
      if (subscriber.ended) return;
      if (subscriber.next >= this.position) {
        this.live.add(subscriber);
        return;
      }
      const to = Math.min(this.position - 1, subscriber.next + READ_BATCH - 1);
      for (const record of [...this.log.read(subscriber.next, to)]) {
        if (subscriber.ended) return;
        subscriber.next = record.seq + 1;
        const translated = cachedEnvelope(this.log, record);
        if (!translated || !subscriber.filter.match(envelopeAdaptor(translated))) continue;
        if (!this.write(subscriber, subscriber.wrap(record.seq, translated.envelope))) await drained(subscriber.call);
      }
    }
  }
}

const fanouts = new WeakMap<EventLog, EnvelopeFanout>();

/** The fan-out shared by every envelope subscriber of a log. */
export function envelopeFanout(log: EventLog): EnvelopeFanout {
  let fanout = fanouts.get(log);
  if (!fanout) fanouts.set(log, (fanout = new EnvelopeFanout(log)));
  return fanout;
}
