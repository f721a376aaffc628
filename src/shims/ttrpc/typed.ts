import { EMPTY, messageCodec } from '../proto.js';
import type { CallOptions, TtrpcClient } from './client.js';
import type { CallContext, UnaryHandler } from './server.js';

const EMPTY_TYPE = 'google.protobuf.Empty';

/** A handler over decoded messages: request and response named by full proto name. */
export function typedHandler<Req, Res extends object>(
  requestType: string,
  responseType: string,
  handle: (request: Req, context: CallContext) => Res | Promise<Res>,
): UnaryHandler {
  const request = messageCodec<Req>(requestType);
  const response = messageCodec(responseType);
  return async (payload, context) => {
    const reply = await handle(request.decode(payload), context);
    return responseType === EMPTY_TYPE ? EMPTY : response.encode(reply);
  };
}

/** One call with decoded messages (see typedHandler); an Empty response resolves to {}. */
export async function typedCall<Res = Record<string, any>>(
  client: TtrpcClient,
  service: string,
  method: string,
  types: { request: string; response: string },
  request: object,
  options?: CallOptions,
): Promise<Res> {
  const payload = await client.call(service, method, messageCodec(types.request).encode(request), options);
  return messageCodec<Res>(types.response).decode(payload);
}
