import { EVENTS_SERVICE, ForwardRequest } from '../wire/protocol/events.js';
import { Empty } from '../wire/protocol/protowire.js';
import type { TimestampedShimEvent } from './task-runtime.js';
import { BadEnvelopeError, decodeTaskEvent, type Envelope } from './task-events.js';
import { Code, requireSameUser, TtrpcError, TtrpcServer, typedHandler } from '../wire/ttrpc/index.js';

export interface EventsServerOptions {
  /** The socket path: containerd's TTRPC_ADDRESS, `<grpc address>.ttrpc`. */
  readonly path: string;
  /** Its failure fails the Forward, so the shim sends the event again (containerd's publisher retries). */
  readonly onEvent: (event: TimestampedShimEvent) => Promise<void> | void;
  /** Envelopes that are not task events (a shim's own topics), as they came. */
  readonly onOtherEvent?: (envelope: Envelope) => void;
  readonly warn?: (message: string) => void;
}

/**
 * The daemon's ttrpc server for shims: containerd.services.events.ttrpc.v1.Events/Forward,
 * which decodes each /tasks/* envelope into a ShimEvent. Only peers with the daemon's uid and
 * gid may connect (as containerd's ttrpc listener).
 */
export async function startEventsServer(options: EventsServerOptions): Promise<TtrpcServer> {
  const server = new TtrpcServer({ authorize: requireSameUser(), onError: (err) => options.warn?.(err.message) });
  server.register(EVENTS_SERVICE, {
    Forward: typedHandler<{ envelope: Envelope | undefined }, object>(ForwardRequest, Empty, async ({ envelope }) => {
      if (!envelope) throw new TtrpcError(Code.InvalidArgument, 'envelope is required');
      if (!envelope.topic) throw new TtrpcError(Code.InvalidArgument, 'envelope topic is required');
      let event: TimestampedShimEvent | undefined;
      try {
        event = decodeTaskEvent(envelope);
      } catch (err) {
        if (err instanceof BadEnvelopeError) throw new TtrpcError(Code.InvalidArgument, err.message);
        throw err;
      }
      if (event) await options.onEvent(event);
      else options.onOtherEvent?.(envelope);
      return {};
    }),
  });
  await server.listen(options.path);
  return server;
}
