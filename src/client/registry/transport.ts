// HTTP to registries with undici, as containerd's docker remote does it (remotes/docker/resolver.go
// doWithRetries): authorisation per host, a 401 retried once its challenge is answered, 408/429
// retried after a pause, redirects followed by hand (at most 10) so that a registry token is never
// sent to another host (blob redirects to a CDN carry no token).
import type { Agent, Dispatcher } from 'undici';
import type { Readable } from 'node:stream';
import { AuthorizationDenied, Authorizer, type CredentialsFor, type TokenTransport } from './auth.js';
import { RegistryError, registryErrors } from './errors.js';
import { LEDGERD_VERSION } from '../../version.js';

export interface RegistryResponse {
  readonly status: number;
  readonly statusText: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Readable & { dump(): Promise<void>; text(): Promise<string> };
  /** The URL that answered (after redirects). */
  readonly url: string;
}

export interface RequestOptions {
  readonly method: 'GET' | 'HEAD';
  readonly headers?: Record<string, string>;
  /** The token scope the request needs, e.g. repository:library/busybox:pull. */
  readonly scope?: string;
  readonly signal?: AbortSignal;
}

const MAX_REDIRECTS = 10;
const MAX_RETRIES = 5;
const STATUS_TEXT: Record<number, string> = {
  200: 'OK', 206: 'Partial Content', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found',
  405: 'Method Not Allowed', 408: 'Request Timeout', 416: 'Range Not Satisfiable', 429: 'Too Many Requests',
  500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
};
export const statusText = (status: number) => STATUS_TEXT[status] ?? '';

const headerList = (value: string | string[] | undefined): string[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);
export const headerValue = (value: string | string[] | undefined): string | undefined => headerList(value)[0];

export interface TransportOptions {
  readonly credentials?: CredentialsFor;
  readonly userAgent?: string;
  /** Connections kept per registry origin (parallel blob downloads). */
  readonly connections?: number;
}

/** undici loads on the first request: a daemon that never pulls does not carry it (~5 MB). */
let undici: Promise<typeof import('undici')> | undefined;
const loadUndici = () => (undici ??= import('undici'));

export class RegistryTransport {
  private agent: Agent | undefined;
  private readonly connections: number;
  private readonly authorizer: Authorizer;
  private readonly userAgent: string;

  constructor(options: TransportOptions = {}) {
    this.connections = options.connections ?? 8;
    this.userAgent = options.userAgent ?? `ledgerd/${LEDGERD_VERSION}`;
    const tokens: TokenTransport = {
      get: (url, headers) => this.plain(url, { method: 'GET', headers }),
      postForm: (url, form) =>
        this.plain(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() }),
    };
    this.authorizer = new Authorizer(tokens, options.credentials);
  }

  /** A request with authorisation, retries and redirects; the caller consumes or dumps the body. */
  async request(url: string, options: RequestOptions): Promise<RegistryResponse> {
    let current = new URL(url);
    let redirects = 0;
    for (let attempt = 0; ; attempt++) {
      const authorization = await this.authorizer.authorize(current.host, options.scope);
      const headers: Record<string, string> = { 'user-agent': this.userAgent, ...(options.headers ?? {}) };
      if (authorization) headers.authorization = authorization;
      const response = await this.send(current, { method: options.method, headers, signal: options.signal });

      const location = headerValue(response.headers.location);
      if (response.statusCode >= 300 && response.statusCode < 400 && location && response.statusCode !== 304) {
        await response.body.dump();
        if (++redirects > MAX_REDIRECTS) throw new Error(`${options.method} ${url}: stopped after ${MAX_REDIRECTS} redirects`);
        current = new URL(location, current);
        continue;
      }
      if (response.statusCode === 401 && attempt < MAX_RETRIES) {
        const text = await response.body.text();
        if (this.authorizer.challenged(current.host, headerList(response.headers['www-authenticate']), !!authorization)) continue;
        if (authorization || headerList(response.headers['www-authenticate']).length > 0) {
          const denied = new RegistryError(options.method, current.toString(), 401, statusText(401), registryErrors(text));
          throw new AuthorizationDenied(`pull access denied, repository does not exist or may require authorization: ${denied.message}`);
        }
        throw new RegistryError(options.method, current.toString(), 401, statusText(401), registryErrors(text));
      }
      if ((response.statusCode === 408 || response.statusCode === 429) && attempt < MAX_RETRIES) {
        await response.body.dump();
        await new Promise((resolve) => setTimeout(resolve, 200 * 2 ** attempt));
        continue;
      }
      return {
        status: response.statusCode,
        statusText: statusText(response.statusCode),
        headers: response.headers,
        body: response.body as unknown as RegistryResponse['body'],
        url: current.toString(),
      };
    }
  }

  /** The registry error for a response that is not a success, with the server's message. */
  async failure(response: RegistryResponse, method: string): Promise<RegistryError> {
    const text = method === 'HEAD' ? '' : await response.body.text().catch(() => '');
    return new RegistryError(method, response.url, response.status, response.statusText, registryErrors(text));
  }

  close(): Promise<void> {
    return this.agent?.close() ?? Promise.resolve();
  }

  private async send(url: URL, options: { method: string; headers: Record<string, string>; signal?: AbortSignal; body?: string }): Promise<Dispatcher.ResponseData> {
    const { Agent, request } = await loadUndici();
    this.agent ??= new Agent({ connections: this.connections, keepAliveTimeout: 30_000, headersTimeout: 60_000, bodyTimeout: 60_000 });
    return request(url, { dispatcher: this.agent, method: options.method as Dispatcher.HttpMethod, headers: options.headers, signal: options.signal, body: options.body });
  }

  /** Token requests: no registry authorisation, redirects not followed. */
  private async plain(url: string, options: { method: string; headers: Record<string, string>; body?: string }): Promise<{ status: number; body: string }> {
    const response = await this.send(new URL(url), { ...options, headers: { 'user-agent': this.userAgent, ...options.headers } });
    return { status: response.statusCode, body: await response.body.text() };
  }
}
