// Content.Write from the client side, as containerd's content proxy writer drives it
// (content/proxy/content_writer.go): STAT first (the offset a partial ingest of this ref already
// has; AlreadyExists when the blob is in the namespace), WRITEs at the current offset, COMMIT with
// size, digest and labels. Unlike the Go client, several 1 MiB WRITEs are in flight at once (the
// server answers each in order), so a blob is not paced by one round trip per MiB.
import { grpcCode, SERVICES, type DuplexMessages, type Rpc } from '../rpc.js';
import { Code } from '../../util/grpc-codes.js';

/** containerd.services.content.v1.WriteContentRequest, as the loader presents it. */
export interface WriteRequest {
  action?: 'STAT' | 'WRITE' | 'COMMIT';
  ref?: string;
  total?: number;
  expected?: string;
  offset?: number;
  data?: Buffer;
  labels?: Record<string, string>;
}

/** containerd.services.content.v1.WriteContentResponse. */
export interface WriteResponse {
  action: string;
  started_at: { seconds: number; nanos: number };
  updated_at: { seconds: number; nanos: number };
  offset: number;
  total: number;
  digest: string;
}

export interface WriterTarget {
  readonly ref: string;
  /** Expected size (0: unknown). */
  readonly total: number;
  /** Expected digest, checked by the server at commit (and used to skip what exists). */
  readonly expected?: string;
}

const CHUNK = 1 << 20;
const WINDOW = 4;
/** How long a ref held by another writer is waited for. */
const LOCKED_WAIT_MS = 10 * 60_000;

export class ContentWriter {
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  /** The offset the ingest had when it was opened (a partial ingest of this ref resumes there). */
  private opened = 0;
  /** Bytes sent (what the server will have once the pending WRITEs are answered). */
  private sent = 0;
  private readonly pending: { resolve: (r: WriteResponse) => void; reject: (e: Error) => void }[] = [];
  private readonly inflight: Promise<void>[] = [];
  private failure: Error | undefined;
  private finished = false;

  get startedAt(): number {
    return this.opened;
  }

  private constructor(
    private readonly call: DuplexMessages<WriteRequest, WriteResponse>,
    private readonly target: WriterTarget,
  ) {
    call.on('data', (response) => this.pending.shift()?.resolve(response));
    call.on('error', (err) => this.fail(err));
    call.on('end', () => this.fail(new Error(`Content.Write ${target.ref}: the server ended the call early`)));
  }

  /**
   * Opens the ingest, or returns "exists" when the namespace has the expected blob already (the
   * server then also adds it to the caller's lease). A ref held by another writer is retried.
   */
  static async open(rpc: Rpc, target: WriterTarget, signal?: AbortSignal): Promise<ContentWriter | 'exists'> {
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted();
      const call = rpc.duplex<WriteRequest, WriteResponse>(SERVICES.content, 'Write');
      const writer = new ContentWriter(call, target);
      try {
        const stat = await writer.request({ action: 'STAT', ref: target.ref, total: target.total, expected: target.expected });
        writer.opened = writer.sent = Number(stat.offset);
        return writer;
      } catch (err) {
        writer.cancel();
        if (grpcCode(err) === Code.AlreadyExists) return 'exists';
        // another writer holds the ref (a concurrent pull of the same blob): wait for it
        if (grpcCode(err) !== Code.Unavailable || Date.now() - started > LOCKED_WAIT_MS) throw err;
        await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 10 * 2 ** Math.min(attempt, 7)) * (0.5 + Math.random() / 2)));
      }
    }
  }

  /** Queues bytes; sends them in 1 MiB WRITEs, waiting only when WINDOW of them are unanswered. */
  async write(data: Buffer): Promise<void> {
    this.buffered.push(data);
    this.bufferedBytes += data.length;
    while (this.bufferedBytes >= CHUNK) await this.sendChunk(CHUNK);
  }

  /** Sends what is buffered and waits until the server has it (a download that failed keeps its progress). */
  async flush(): Promise<void> {
    while (this.bufferedBytes > 0) await this.sendChunk(Math.min(CHUNK, this.bufferedBytes));
    for (const answered of this.inflight.splice(0)) await answered;
  }

  /** Sends the rest, commits with labels, checks the server's size and digest, ends the call. */
  async commit(labels: Record<string, string> = {}): Promise<{ digest: string; size: number }> {
    await this.flush();
    const committed = await this.request({ action: 'COMMIT', total: this.target.total, offset: this.sent, expected: this.target.expected, labels });
    this.finished = true;
    this.call.end();
    const size = Number(committed.offset);
    if (this.target.total > 0 && size !== this.target.total) throw new Error(`${this.target.ref}: committed ${size} bytes, expected ${this.target.total}`);
    if (this.target.expected && committed.digest !== this.target.expected) {
      throw new Error(`${this.target.ref}: committed digest ${committed.digest}, expected ${this.target.expected}`);
    }
    return { digest: committed.digest, size };
  }

  /** Starts the blob over (a resumed ingest whose bytes proved wrong): the next WRITE is at 0. */
  restart(): void {
    this.opened = this.sent = 0;
  }

  /** Drops the call: the ingest stays on the server for a later resume (or an Abort). */
  cancel(): void {
    this.finished = true;
    this.call.cancel();
  }

  private async sendChunk(size: number): Promise<void> {
    const data = this.take(size);
    const offset = this.sent;
    this.sent += data.length;
    const answered = this.request({ action: 'WRITE', offset, data }).then((response) => {
      if (Number(response.offset) !== offset + data.length) {
        throw new Error(`${this.target.ref}: server at offset ${response.offset} after a write of ${data.length} bytes at ${offset}`);
      }
    });
    answered.catch(() => undefined);
    this.inflight.push(answered);
    if (this.inflight.length >= WINDOW) await this.inflight.shift();
  }

  private take(size: number): Buffer {
    const all = this.buffered.length === 1 ? this.buffered[0]! : Buffer.concat(this.buffered);
    const chunk = all.subarray(0, size);
    const rest = all.subarray(size);
    this.buffered = rest.length > 0 ? [rest] : [];
    this.bufferedBytes = rest.length;
    return chunk;
  }

  private request(message: WriteRequest): Promise<WriteResponse> {
    if (this.failure) return Promise.reject(this.failure);
    const answer = new Promise<WriteResponse>((resolve, reject) => this.pending.push({ resolve, reject }));
    this.call.write(message);
    return answer;
  }

  private fail(err: Error): void {
    if (this.failure || (this.finished && this.pending.length === 0)) return;
    this.failure = err;
    for (const waiter of this.pending.splice(0)) waiter.reject(err);
  }
}

/**
 * content.WriteBlob: the whole blob from `data`, unless the namespace has it (then `data` is
 * drained and "exists" returned). Returns the digest and size the server committed.
 */
export async function writeBlob(
  rpc: Rpc,
  target: WriterTarget,
  data: Buffer | AsyncIterable<Buffer>,
  labels: Record<string, string> = {},
): Promise<{ digest: string; size: number } | 'exists'> {
  const writer = await ContentWriter.open(rpc, target);
  const drain = async () => {
    if (!Buffer.isBuffer(data)) for await (const _ of data) void _;
  };
  if (writer === 'exists') {
    await drain();
    return 'exists';
  }
  if (writer.startedAt > 0) writer.restart();
  try {
    if (Buffer.isBuffer(data)) await writer.write(data);
    else for await (const chunk of data) await writer.write(chunk);
    return await writer.commit(labels);
  } catch (err) {
    writer.cancel();
    if (grpcCode(err) === Code.AlreadyExists) {
      await drain().catch(() => undefined);
      return 'exists';
    }
    // bytes that are not the blob they claim to be are not kept for a resume
    if (grpcCode(err) === Code.FailedPrecondition) await rpc.unary(SERVICES.content, 'Abort', { ref: target.ref }).catch(() => undefined);
    throw err;
  }
}
