import type { ClientDuplexStream, Metadata, ServiceError } from '@grpc/grpc-js';
import type { Connection } from '../../src/cli/grpc-client.js';
import type { WriteRequest, WriteResponse } from '../../src/client/content/writer.js';

export const CONTENT = 'containerd.services.content.v1.Content';

export type { WriteRequest, WriteResponse };

/**
 * A Content.Write call driven the way containerd's Go client drives it: one request, then wait
 * for its one response. An error of the call rejects the pending and every later send.
 */
export class WriteSession {
  private readonly stream: ClientDuplexStream<WriteRequest, WriteResponse>;
  private readonly queue: WriteResponse[] = [];
  private waiter: { resolve: (r: WriteResponse | undefined) => void; reject: (e: ServiceError) => void } | undefined;
  private error: ServiceError | undefined;
  private ended = false;
  readonly done: Promise<ServiceError | undefined>;

  constructor(connection: Connection, extra: Record<string, string> = {}) {
    const client = connection.client(CONTENT) as unknown as { Write(metadata: Metadata): ClientDuplexStream<WriteRequest, WriteResponse> };
    this.stream = client.Write(connection.metadata(extra));
    this.stream.on('data', (response: WriteResponse) => {
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = undefined;
        w.resolve(response);
      } else this.queue.push(response);
    });
    this.done = new Promise((resolve) => {
      this.stream.on('error', (err: ServiceError) => {
        this.error = err;
        this.waiter?.reject(err);
        this.waiter = undefined;
        resolve(err);
      });
      this.stream.on('status', () => resolve(this.error));
      this.stream.on('end', () => {
        this.ended = true;
        this.waiter?.resolve(undefined);
        this.waiter = undefined;
      });
    });
  }

  /** Sends one request and resolves with its response (undefined if the server ended the call). */
  send(request: WriteRequest): Promise<WriteResponse | undefined> {
    this.stream.write(request);
    return this.next();
  }

  next(): Promise<WriteResponse | undefined> {
    if (this.queue.length > 0) return Promise.resolve(this.queue.shift());
    if (this.error) return Promise.reject(this.error);
    if (this.ended) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  /** Half-closes: the server then ends the call with OK. */
  close(): Promise<ServiceError | undefined> {
    this.stream.end();
    return this.done;
  }

  cancel(): void {
    this.stream.cancel();
  }
}

/** The Go client's upload of a whole blob: STAT, WRITE chunks, COMMIT, half-close. */
export async function upload(
  connection: Connection,
  ref: string,
  data: Buffer,
  options: { expected?: string; labels?: Record<string, string>; chunk?: number; extra?: Record<string, string> } = {},
): Promise<WriteResponse> {
  const session = new WriteSession(connection, options.extra);
  const stat = await session.send({ action: 'STAT', ref, total: data.length, expected: options.expected });
  let offset = stat!.offset;
  const chunk = options.chunk ?? 1 << 20;
  while (offset < data.length) {
    const response = await session.send({ action: 'WRITE', offset, data: data.subarray(offset, offset + chunk) });
    offset = response!.offset;
  }
  const committed = await session.send({ action: 'COMMIT', total: data.length, offset, expected: options.expected, labels: options.labels });
  await session.close();
  return committed!;
}
