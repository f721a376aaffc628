// What the client library needs from a connection to a daemon: containerd's services by name.
// The CLI passes its gRPC connection; the library itself stays free of gRPC.
import { LEASE_HEADER, SERVICES } from '../api/services.js';

export interface ReadableMessages<T> {
  on(event: 'data', listener: (message: T) => void): this;
  on(event: 'end', listener: () => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  cancel(): void;
  pause(): this;
  resume(): this;
}

/** A bidirectional call (Content.Write): requests out, responses in, in order. */
export interface DuplexMessages<Req, Res> extends ReadableMessages<Res> {
  write(message: Req): boolean;
  end(): void;
}

export interface Rpc {
  readonly namespace: string | undefined;
  unary<R = Record<string, unknown>>(service: string, method: string, request: unknown, extra?: Record<string, string>): Promise<R>;
  stream<R = Record<string, unknown>>(service: string, method: string, request: unknown, extra?: Record<string, string>): ReadableMessages<R>;
  duplex<Req, Res>(service: string, method: string, extra?: Record<string, string>): DuplexMessages<Req, Res>;
}

/** The same connection with headers added to every call (e.g. containerd-lease). */
export function withHeaders(rpc: Rpc, headers: Record<string, string>): Rpc {
  return {
    namespace: rpc.namespace,
    unary: (service, method, request, extra) => rpc.unary(service, method, request, { ...headers, ...extra }),
    stream: (service, method, request, extra) => rpc.stream(service, method, request, { ...headers, ...extra }),
    duplex: (service, method, extra) => rpc.duplex(service, method, { ...headers, ...extra }),
  };
}

/** Every message of a server stream. */
export function collect<T>(stream: ReadableMessages<T>): Promise<T[]> {
  const messages: T[] = [];
  return new Promise((resolve, reject) => {
    stream.on('data', (m) => messages.push(m));
    stream.on('end', () => resolve(messages));
    stream.on('error', reject);
  });
}

export { LEASE_HEADER, SERVICES };


/** The gRPC status code of a failed call, if it has one (grpc-js ServiceError). */
export const grpcCode = (err: unknown): number | undefined => {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
};

/** A blob's bytes through Content.Read. */
export async function readBlob(rpc: Rpc, digest: string): Promise<Buffer> {
  const chunks = await collect(rpc.stream<{ offset: number | string; data: Buffer }>(SERVICES.content, 'Read', { digest }));
  return Buffer.concat(chunks.map((c) => c.data));
}
