import type {
  sendUnaryData,
  ServerDuplexStream,
  ServerUnaryCall,
  ServerWritableStream,
  UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { toServiceError } from './grpc-errors.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
export type Unary = (call: ServerUnaryCall<any, any>) => Promise<unknown> | unknown;
export type ServerStream = (call: ServerWritableStream<any, any>) => Promise<void>;
export type BidiStream = (call: ServerDuplexStream<any, any>) => Promise<void>;

/** Adapts an async handler to grpc-js: a thrown error becomes containerd's gRPC status. */
export function unary(handler: Unary) {
  return (call: ServerUnaryCall<any, any>, callback: sendUnaryData<any>) => {
    Promise.resolve()
      .then(() => handler(call))
      .then(
        (reply) => callback(null, reply ?? {}),
        (err: unknown) => callback(toServiceError(err)),
      );
  };
}

export function serverStream(handler: ServerStream) {
  return (call: ServerWritableStream<any, any>) => {
    handler(call).then(
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
  return async () => {
    const next = await messages.next();
    return next.done ? undefined : next.value;
  };
}

/** Writes one message, waiting for the transport to drain when its buffer is full. */
export async function writeWithBackpressure(call: ServerWritableStream<any, any> | ServerDuplexStream<any, any>, message: unknown): Promise<void> {
  if (!call.write(message)) {
    await new Promise<void>((resolve) => {
      const done = () => {
        call.off('drain', done);
        call.off('cancelled', done);
        resolve();
      };
      call.on('drain', done);
      call.on('cancelled', done);
    });
  }
}

export type Implementation = UntypedServiceImplementation;
