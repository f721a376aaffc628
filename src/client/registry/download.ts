// A blob from a registry, checked while it streams: never more bytes than the descriptor's size,
// and the digest compared once the last byte is in. A connection that drops mid-blob is picked up
// again where it stopped with an HTTP Range request (the hash keeps running across the resume).
import { createHash, type Hash } from 'node:crypto';
import type { Descriptor } from '../image/descriptor.js';
import { DigestMismatchError, RegistryError } from './errors.js';
import type { Registry } from './registry.js';

export interface DownloadOptions {
  /** Start here (the bytes before are already stored: the digest is then left to the store). */
  readonly offset?: number;
  readonly signal?: AbortSignal;
  /** Reconnections in a row without progress before giving up (default 5). */
  readonly retries?: number;
  /** Told about each reconnection. */
  readonly onRetry?: (offset: number, reason: Error) => void;
}

const TRANSIENT_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED',
  'UND_ERR_BODY_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
]);

export class ShortBodyError extends Error {}

/** Errors a new request may cure: dropped connections, timeouts, 5xx answers, bodies that end early. */
export function isTransient(err: unknown): boolean {
  if (err instanceof RegistryError) return err.status >= 500;
  if (err instanceof ShortBodyError) return true;
  const e = err as { code?: string; cause?: { code?: string }; message?: string };
  return TRANSIENT_CODES.has(e?.code ?? '') || TRANSIENT_CODES.has(e?.cause?.code ?? '') || e?.message === 'terminated';
}

function hasherFor(digest: string): Hash | undefined {
  const algorithm = digest.slice(0, digest.indexOf(':'));
  return ['sha256', 'sha384', 'sha512'].includes(algorithm) ? createHash(algorithm) : undefined;
}

const pause = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });

export async function* downloadBlob(registry: Registry, desc: Descriptor, options: DownloadOptions = {}): AsyncGenerator<Buffer> {
  const retries = options.retries ?? 5;
  let position = options.offset ?? 0;
  const hash = position === 0 ? hasherFor(desc.digest) : undefined;
  let failures = 0;
  for (;;) {
    try {
      const body = await registry.open(desc, position, options.signal);
      for await (const chunk of body) {
        if (position + chunk.length > desc.size) {
          throw new Error(`${registry.endpoint.origin}/v2/${registry.ref.repository}: ${desc.digest}: the server sent more than the ${desc.size} bytes the descriptor declares; refusing it`);
        }
        hash?.update(chunk);
        position += chunk.length;
        failures = 0;
        yield chunk;
      }
      if (position < desc.size) throw new ShortBodyError(`${desc.digest}: the body ended after ${position} of ${desc.size} bytes`);
      break;
    } catch (err) {
      if (options.signal?.aborted || !isTransient(err)) throw err;
      if (++failures > retries) {
        const reason = (err as Error).message;
        throw new Error(`${registry.endpoint.origin}/v2/${registry.ref.repository}/blobs/${desc.digest}: gave up at byte ${position} of ${desc.size} after ${retries} reconnections without progress: ${reason}`, { cause: err });
      }
      options.onRetry?.(position, err as Error);
      await pause(100 * 2 ** (failures - 1), options.signal);
    }
  }
  if (hash) {
    const actual = `${desc.digest.slice(0, desc.digest.indexOf(':'))}:${hash.digest('hex')}`;
    if (actual !== desc.digest) throw new DigestMismatchError(`${registry.endpoint.origin}/v2/${registry.ref.repository}`, desc.digest, actual);
  }
}
