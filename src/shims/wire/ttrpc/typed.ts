import { decode, encode, type MessageType } from '../protocol/protowire.js';
import type { CallOptions, TtrpcClient } from './client.js';
import type { CallContext, UnaryHandler } from './server.js';

/** A handler over decoded messages (protowire types for the request and the response). */
export function typedHandler<Req, Res extends object>(
  request: MessageType,
  response: MessageType,
  handle: (request: Req, context: CallContext) => Res | Promise<Res>,
): UnaryHandler {
  return async (payload, context) => encode(response, (await handle(decode<Req>(request, payload), context)) as Record<string, unknown>);
}

/** One call with decoded messages (see typedHandler); an Empty response resolves to {}. */
export async function typedCall<Res = Record<string, any>>(
  client: TtrpcClient,
  service: string,
  method: string,
  types: { readonly request: MessageType; readonly response: MessageType },
  request: object,
  options?: CallOptions,
): Promise<Res> {
  const payload = await client.call(service, method, encode(types.request, request as Record<string, unknown>), options);
  return decode<Res>(types.response, payload);
}
