// A proxy in front of the test registry that misbehaves on request: bearer-token authorisation
// with its own tiny token server (/token), connections dropped mid-blob, blob bytes altered,
// Range ignored, or registry errors injected.
import { randomBytes } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';

export type BlobBehaviour = 'pass' | 'corrupt' | 'ignore-range' | { dropAfter: number };

export interface ProxyOptions {
  /** Require bearer tokens; with credentials, the token server hands tokens only to that user. */
  readonly auth?: { readonly credentials?: { readonly username: string; readonly password: string } };
  /** What to do with a blob GET (attempt counts the GETs of that digest, from 1). */
  readonly blob?: (digest: string, attempt: number) => BlobBehaviour;
  /** Answer a request with an error instead of forwarding it. */
  readonly fail?: (method: string, path: string) => { status: number; body: unknown } | undefined;
}

export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  readonly range?: string;
  readonly authorization?: string;
}

export interface RegistryProxy {
  readonly host: string;
  readonly requests: SeenRequest[];
  readonly tokenRequests: { method: string; url: string; body: string; authorization?: string }[];
}

export async function startRegistryProxy(t: TestContext, upstream: string, options: ProxyOptions = {}): Promise<RegistryProxy> {
  const tokens = new Set<string>();
  const attempts = new Map<string, number>();
  const requests: SeenRequest[] = [];
  const tokenRequests: RegistryProxy['tokenRequests'] = [];
  let host = '';

  const serveToken = async (req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    tokenRequests.push({ method: req.method!, url: req.url!, body, authorization: req.headers.authorization });
    const wanted = options.auth?.credentials;
    if (wanted) {
      const basic = req.headers.authorization?.startsWith('Basic ') ? Buffer.from(req.headers.authorization.slice(6), 'base64').toString() : undefined;
      const form = new URLSearchParams(body);
      const given = basic ?? (form.get('username') !== null ? `${form.get('username')}:${form.get('password')}` : undefined);
      if (given !== `${wanted.username}:${wanted.password}`) {
        res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ details: 'bad credentials' }));
        return;
      }
    }
    const token = randomBytes(12).toString('hex');
    tokens.add(token);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(req.method === 'POST' ? { access_token: token } : { token }));
  };

  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    if (path.startsWith('/token')) return void serveToken(req, res);
    requests.push({ method: req.method!, path, range: req.headers.range, authorization: req.headers.authorization });
    const repo = /^\/v2\/(.+)\/(?:manifests|blobs)\//.exec(path)?.[1];
    if (options.auth && path.startsWith('/v2/')) {
      const token = req.headers.authorization?.replace(/^Bearer /, '');
      if (!token || !tokens.has(token)) {
        const scope = repo ? `,scope="repository:${repo}:pull"` : '';
        res.writeHead(401, {
          'content-type': 'application/json',
          'www-authenticate': `Bearer realm="http://${host}/token",service="test-registry"${scope}${token ? ',error="invalid_token"' : ''}`,
        });
        res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
        return;
      }
    }
    const injected = options.fail?.(req.method!, path);
    if (injected) {
      res.writeHead(injected.status, { 'content-type': 'application/json' }).end(JSON.stringify(injected.body));
      return;
    }
    const digest = req.method === 'GET' ? /\/blobs\/(sha256:[a-f0-9]{64})$/.exec(path)?.[1] : undefined;
    const attempt = digest ? (attempts.get(digest) ?? 0) + 1 : 0;
    if (digest) attempts.set(digest, attempt);
    const behaviour: BlobBehaviour = digest && options.blob ? options.blob(digest, attempt) : 'pass';

    const headers = { ...req.headers, host: upstream };
    delete headers.authorization;
    if (behaviour === 'ignore-range') delete headers.range;
    const forwarded = httpRequest(`http://${upstream}${path}`, { method: req.method, headers }, (up) => {
      if (behaviour === 'pass' || behaviour === 'ignore-range' || (up.statusCode ?? 0) >= 300) {
        res.writeHead(up.statusCode!, up.headers);
        up.pipe(res);
        return;
      }
      const chunks: Buffer[] = [];
      up.on('data', (c: Buffer) => chunks.push(c));
      up.on('end', () => {
        const body = Buffer.concat(chunks);
        res.writeHead(up.statusCode!, up.headers);
        if (behaviour === 'corrupt') {
          body[Math.floor(body.length / 2)]! ^= 0xff;
          res.end(body);
        } else {
          // the headers promised the whole body: send part of it and cut the connection
          res.write(body.subarray(0, behaviour.dropAfter), () => setTimeout(() => res.socket?.destroy(), 20));
        }
      });
    });
    forwarded.on('error', () => res.destroy());
    req.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  t.after(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { host, requests, tokenRequests };
}
