// The sessions Exec, Attach and PortForward have handed out and no client has opened yet
// (kubelet's streaming request_cache.go): each under a random token in its URL, good for one
// use within a minute, at most 1000 waiting at once.
import { randomBytes } from 'node:crypto';
import { StatusError } from '../../util/errdefs.js';
import { Code } from '../../util/grpc-codes.js';

const TTL_MS = 60_000;
const MAX_IN_FLIGHT = 1000;

export class RequestCache<T> {
  private readonly entries = new Map<string, { readonly request: T; readonly expires: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  insert(request: T): string {
    this.evictExpired();
    if (this.entries.size >= MAX_IN_FLIGHT) {
      throw new StatusError(Code.ResourceExhausted, 'maximum number of in-flight streaming requests exceeded');
    }
    let token: string;
    do token = randomBytes(6).toString('base64url');
    while (this.entries.has(token));
    this.entries.set(token, { request, expires: this.now() + TTL_MS });
    return token;
  }

  /** The request under `token`, removed; undefined if unknown or expired. */
  consume(token: string): T | undefined {
    const entry = this.entries.get(token);
    if (!entry) return undefined;
    this.entries.delete(token);
    return entry.expires > this.now() ? entry.request : undefined;
  }

  private evictExpired(): void {
    const now = this.now();
    for (const [token, entry] of this.entries) if (entry.expires <= now) this.entries.delete(token);
  }
}
