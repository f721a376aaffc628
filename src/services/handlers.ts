import type {
  sendUnaryData,
  ServerDuplexStream,
  ServerUnaryCall,
  ServerWritableStream,
  ServiceDefinition,
  UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { invalidArgument, StatusError } from '../util/errdefs.js';
import { Code } from '../util/grpc-codes.js';
import { toServiceError } from './grpc-errors.js';

/** A request body that did not decode as its message; the handler's wrapper answers InvalidArgument. */
export class MalformedRequest {
  constructor(
    readonly method: string,
    readonly reason: string,
  ) {}

  error() {
    return invalidArgument(`request to ${this.method} does not decode: ${this.reason}`);
  }
}

/**
 * The service's definition with decoding that does not throw: grpc-js answers a body that fails
 * to decode with Internal ("Error deserializing request"), where bad input is InvalidArgument.
 */
export function tolerantDefinition(definition: ServiceDefinition): ServiceDefinition {
  const methods = Object.entries(definition).map(([name, method]) => {
    const decode = method.requestDeserialize;
    const requestDeserialize = (bytes: Buffer) => {
      try {
        return decode(bytes);
      } catch (err) {
        return new MalformedRequest(method.path, err instanceof Error ? err.message : String(err));
      }
    };
    return [name, { ...method, requestDeserialize }];
  });
  return Object.fromEntries(methods) as ServiceDefinition;
}

function checkDecoded(request: unknown): void {
  if (request instanceof MalformedRequest) throw request.error();
}

/* eslint-disable @typescript-eslint/no-explicit-any */
export type Unary = (call: ServerUnaryCall<any, any>) => Promise<unknown> | unknown;
export type ServerStream = (call: ServerWritableStream<any, any>) => Promise<void>;
export type BidiStream = (call: ServerDuplexStream<any, any>) => Promise<void>;

/** Adapts an async handler to grpc-js: a thrown error becomes containerd's gRPC status. */
export function unary(handler: Unary) {
  return (call: ServerUnaryCall<any, any>, callback: sendUnaryData<any>) => {
    Promise.resolve()
      .then(() => {
        checkDecoded(call.request);
        return handler(call);
      })
      .then(
        (reply) => callback(null, reply ?? {}),
        (err: unknown) => callback(toServiceError(err)),
      );
  };
}

export function serverStream(handler: ServerStream) {
  return (call: ServerWritableStream<any, any>) => {
    Promise.resolve()
      .then(() => {
        checkDecoded(call.request);
        return handler(call);
      })
      .then(
      () => call.end(),
      // grpc-js turns an 'error' on a server stream into the call's status
      (err: unknown) => {
        if (!call.cancelled) call.emit('error', toServiceError(err));
      },
    );
  };
}

/** A bidirectional stream: the handler reads with `nextMessage` and writes; resolving ends the call OK. */
export function bidiStream(handler: BidiStream) {
  return (call: ServerDuplexStream<any, any>) => {
    handler(call).then(
      () => call.end(),
      (err: unknown) => {
        if (!call.cancelled) call.emit('error', toServiceError(err));
      },
    );
  };
}

/**
 * Reads the next message of a client stream, pulling one at a time (backpressure);
 * undefined once the client half-closed. Rejects when the call is cancelled.
 */
export function messageReader<T>(call: ServerDuplexStream<T, any>): () => Promise<T | undefined> {
  // not [Symbol.asyncIterator]: at the client's half-close that destroys the call before its status is sent
  const messages = (call as unknown as import('node:stream').Readable).iterator({ destroyOnReturn: false }) as AsyncIterator<T>;
  // grpc-js does not end the readable side when the client cancels or its deadline passes: without
  // this a handler waiting for the next message would wait for ever, holding what it holds (a ref's lock).
  // Not a Promise.race against one promise of the cancel: every race adds a reaction to it that
  // holds that race's result, so a Content.Write kept every chunk it received until its end.
  return async () => {
    const next = await new Promise<IteratorResult<T>>((resolve, reject) => {
      const gone = () => reject(new StatusError(Code.Canceled, 'the client cancelled the call'));
      if (call.cancelled) return gone();
      call.once('cancelled', gone);
      messages.next().then(
        (result) => (call.off('cancelled', gone), resolve(result)),
        (err: unknown) => (call.off('cancelled', gone), reject(err)),
      );
    });
    if (next.done) return undefined;
    checkDecoded(next.value);
    return next.value;
  };
}

/**
 * Writes one message, waiting for the transport to drain when its buffer is full. A call that is
 * cancelled, closed or failed never drains and its 'cancelled' may have fired already: the wait
 * ends at once then, so the handler goes on to its finally (closing files, releasing locks).
 */
export async function writeWithBackpressure(call: ServerWritableStream<any, any> | ServerDuplexStream<any, any>, message: unknown): Promise<void> {
  if (!call.write(message)) await drained(call);
}

/** Waits until a stream whose write returned false drains, or ends in any way (at once if it has). */
export function drained(call: ServerWritableStream<any, any> | ServerDuplexStream<any, any>): Promise<void> {
  if (call.cancelled || call.destroyed || call.writableEnded) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const events = ['drain', 'cancelled', 'close', 'error', 'finish'] as const;
    const done = () => {
      for (const event of events) call.off(event, done);
      resolve();
    };
    for (const event of events) call.on(event, done);
  });
}

export type Implementation = UntypedServiceImplementation;
