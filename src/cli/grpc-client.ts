import { credentials, Metadata, type Client, type ClientDuplexStream, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { serviceClient } from '../api/proto.js';
import { NAMESPACE_HEADER } from '../api/services.js';

export const DEFAULT_ADDRESS = '/run/ledgerd/ledgerd.sock';

/** A connection to a daemon's socket with per-call namespace headers, as ctr does. */
export class Connection {
  private readonly clients = new Map<string, Client>();

  constructor(
    readonly address: string,
    readonly namespace: string | undefined,
  ) {}

  client(service: string): Client {
    let client = this.clients.get(service);
    if (!client) {
      const Ctor = serviceClient(service) as unknown as new (address: string, creds: ReturnType<typeof credentials.createInsecure>) => Client;
      client = new Ctor(`unix://${this.address.replace(/^unix:\/\//, '')}`, credentials.createInsecure());
      this.clients.set(service, client);
    }
    return client;
  }

  metadata(extra: Record<string, string> = {}): Metadata {
    const metadata = new Metadata();
    if (this.namespace) metadata.set(NAMESPACE_HEADER, this.namespace);
    for (const [key, value] of Object.entries(extra)) metadata.set(key, value);
    return metadata;
  }

  unary<R = Record<string, unknown>>(service: string, method: string, request: unknown, extra?: Record<string, string>): Promise<R> {
    const client = this.client(service) as unknown as Record<string, (req: unknown, md: Metadata, cb: (err: ServiceError | null, res: R) => void) => void>;
    return new Promise((resolve, reject) =>
      client[method]!.call(client, request, this.metadata(extra), (err, res) => (err ? reject(err) : resolve(res))),
    );
  }

  stream<R = Record<string, unknown>>(service: string, method: string, request: unknown, extra?: Record<string, string>): ClientReadableStream<R> {
    const client = this.client(service) as unknown as Record<string, (req: unknown, md: Metadata) => ClientReadableStream<R>>;
    return client[method]!.call(client, request, this.metadata(extra));
  }

  duplex<Req, Res>(service: string, method: string, extra?: Record<string, string>): ClientDuplexStream<Req, Res> {
    const client = this.client(service) as unknown as Record<string, (md: Metadata) => ClientDuplexStream<Req, Res>>;
    return client[method]!.call(client, this.metadata(extra));
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
  }
}
