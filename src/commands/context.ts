import { AppendConflictError, type AppendResult, type EventLog, type RecordMeta, type StreamExpectation } from '../log/index.js';
import { SharedLock } from '../util/shared-lock.js';
import { versionKey, type ProjectionSet, type StreamVersions } from '../projections/index.js';
import type { TypedEvent } from '../events/index.js';
import { activeTracer, traced, type OpenSpan } from '../util/tracing.js';

/** What every command needs: the log to append to and the read models to decide against. */
export interface CommandContext {
  readonly log: EventLog;
  readonly projections: ProjectionSet;
}

/** Who is asking: carried into every record's meta. */
export type RequestMeta = RecordMeta;

/** The `reason` a deletion event carries when it was not a client's request (e.g. "gc"). */
export const reasonOf = (meta: RequestMeta): { reason?: string } => (meta.reason ? { reason: String(meta.reason) } : {});

/**
 * The version of `stream` as a read model's `state` saw it: what the next append expects. A
 * stream the read model forgot (a deleted aggregate) has the log's version.
 */
export function expectedVersion(ctx: CommandContext, state: { readonly versions: StreamVersions }, namespace: string, stream: string): { namespace: string; stream: string; version: number } {
  return { namespace, stream, version: state.versions[versionKey(namespace, stream)] ?? streamVersionAfterDeletion(ctx, namespace, stream) };
}

export interface Decision<R> {
  readonly events: readonly TypedEvent[];
  /** Expected version of each stream the decision read, as the read model saw it. */
  readonly expected: readonly { namespace: string; stream: string; version: number }[];
  readonly result: R;
}

const MAX_ATTEMPTS = 5;

/**
 * The version of a stream whose aggregate the read model no longer holds (a deleted container or
 * lease, whose id may come again): read models forget deleted aggregates, so that their memory
 * does not grow with every container ever run, and the log's stream index keeps the version. It
 * agrees with the read models when they hold every durable record and nothing is being appended
 * to that stream; otherwise an impossible version makes the append conflict, and decideAndAppend
 * decides again once the other append is folded in. Appends to other streams do not matter.
 */
export function streamVersionAfterDeletion(ctx: CommandContext, namespace: string, stream: string): number {
  const version = ctx.log.settledStreamVersion(namespace, stream);
  return version !== undefined && ctx.projections.holdsHead() ? version : -1;
}

/**
* Commands decide and append under this lock, shared; a garbage collection holds it exclusively
 * from its mark to its last deletion (containerd's metadata write lock). Otherwise a reference
 * made between the mark and a deletion is missed: a blob labelled a gc root a moment after the
 * mark was deleted. One per log; the collector's own deletions run inside its hold.
 */
const gates = new WeakMap<EventLog, SharedLock>();
const collectionMetas = new WeakSet<RequestMeta>();
const gateOf = (log: EventLog): SharedLock => {
  let gate = gates.get(log);
  if (!gate) gates.set(log, (gate = new SharedLock()));
  return gate;
};

/**
 * Marks `meta` as a collection's: the commands it is given to run inside the collection's hold
 * (only the collector, within `exclusively`). Carried by the meta object itself, not an
 * AsyncLocalStorage: that would turn on async hooks, a cost on every await in the process.
 */
export function collectionMeta(meta: RequestMeta): RequestMeta {
  collectionMetas.add(meta);
  return meta;
}

/**
 * Whether a command with this meta runs inside a collection's hold. A command's own locks (a
 * snapshot tree's mutex) are not taken then: their holders may be waiting for the hold to end.
 * The expected versions still order the collector's deletions and those commands.
 */
export const insideCollection = (meta: RequestMeta | undefined): boolean => meta !== undefined && collectionMetas.has(meta);

/** Runs `sweep` with no other command deciding or appending meanwhile; its own commands (with a collectionMeta) pass. */
export function exclusively<T>(ctx: CommandContext, sweep: () => Promise<T>): Promise<T> {
  return gateOf(ctx.log).runExclusive(sweep);
}

/**
 * Decide against the read models, append with the versions the decision saw, and answer once
 * the read models hold the new events (read-your-writes). When another command got there first,
 * the append conflicts: wait until its events are folded in and decide again. With tracing on,
 * all of it is one `decide-and-append` span.
 */
export function decideAndAppend<R>(ctx: CommandContext, decide: () => Decision<R>, options: DecideOptions = {}): Promise<R> {
  return traced('decide-and-append', {}, (span) => decideAndAppendAttempts(ctx, decide, options, span));
}

export interface DecideOptions {
  /**
   * The decision reads nothing but the streams it lists in `expected`. Its first attempt then
   * decides without waiting for the appends in flight to settle: one to those streams makes its
   * append conflict at once (the group commit counts appends not yet durable, and the log's
   * stream index is ahead of a read model that has not folded a record yet), and the next attempt
   * settles first. Appends to other streams cannot change the decision. Under 4 parallel
   * `ctr run --rm`, settling cost each append 4-5 ms on average (load 18-20).
   */
  readonly readsOnlyExpected?: boolean;
  /** The request's meta: a collectionMeta decides without the shared lock its collection holds. */
  readonly meta?: RequestMeta;
}

/** For a decision that reads its own stream only (see DecideOptions). */
export const OWN_STREAM: DecideOptions = { readsOnlyExpected: true };

async function decideAndAppendAttempts<R>(ctx: CommandContext, decide: () => Decision<R>, options: DecideOptions, span?: OpenSpan): Promise<R> {
  let attempt = 0;
  const once = async () => {
    if (attempt > 1 || !options.readsOnlyExpected) await ctx.projections.settle();
    const decision = decide();
    span?.setAttributes({ 'ledgerd.event_types': decision.events.map((e) => e.type) });
    // reserved in this turn: once the lock is let go, the next decision sees these events
    const appended = decision.events.length === 0 ? undefined : appendEvents(ctx.log, decision.events, decision.expected);
    return { decision, appended };
  };
  for (attempt = 1; ; attempt++) {
    span?.setAttributes({ 'ledgerd.attempts': attempt });
    const { decision, appended } = insideCollection(options.meta) ? await once() : await gateOf(ctx.log).runShared(once);
    if (!appended) return decision.result;
    try {
      const { last } = await appended;
      await ctx.projections.waitFor(last);
      return decision.result;
    } catch (err) {
      if (!(err instanceof AppendConflictError) || attempt === MAX_ATTEMPTS) throw err;
    }
  }
}

/**
 * The one way commands append. With tracing on, the append (its wait for the group commit to be
 * durable) is a `log.append` span, and each record's meta carries the current span's traceId and
 * spanId, so a record in the log leads to the trace of the request that wrote it.
 */
export function appendEvents(log: EventLog, events: readonly TypedEvent[], expected?: readonly StreamExpectation[]): Promise<AppendResult> {
  const tracer = activeTracer();
  if (!tracer) return log.append(events, { expected });
  const ids = tracer.sampledIds();
  const linked = ids ? events.map((event) => ({ ...event, meta: { ...event.meta, traceId: ids.traceId, spanId: ids.spanId } })) : events;
  const span = tracer.startSpan('log.append', { 'ledgerd.log.records': events.length });
  const appended = log.append(linked, { expected });
  appended.then(
    ({ first, last }) => {
      span.setAttributes({ 'ledgerd.log.first_seq': first, 'ledgerd.log.last_seq': last });
      span.end();
    },
    (err: unknown) => span.end(err),
  );
  return appended;
}
