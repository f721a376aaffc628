import type { ServerWritableStream } from '@grpc/grpc-js';
import { unary, type Implementation } from './handlers.js';
import { notFound } from '../util/errdefs.js';
import { SERVICES } from '../api/services.js';

export const HEALTH_SERVICE = SERVICES.health;

/** grpc.health.v1: the daemon as a whole is the one service ("" ) it reports on. */
export function healthService(serving: () => boolean): Implementation {
  const status = () => (serving() ? 'SERVING' : 'NOT_SERVING');
  return {
    Check: unary((call) => {
      if (call.request.service) throw notFound('unknown service');
      return { status: status() };
    }),
    Watch: (call: ServerWritableStream<{ service?: string }, unknown>) => {
      // The daemon's health does not change while it serves, so one answer stays true until the end.
      call.write({ status: call.request.service ? 'SERVICE_UNKNOWN' : status() });
      call.on('cancelled', () => call.end());
    },
  };
}
