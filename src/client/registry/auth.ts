// Registry authorisation as containerd's docker authorizer does it (remotes/docker/authorizer.go,
// auth/fetch.go, auth/parse.go): a 401's WWW-Authenticate challenges decide between Basic
// credentials and a bearer token from the challenge's realm; tokens are cached per host and scope.

export interface Credentials {
  readonly username: string;
  /** Password, or a refresh token when username is empty. */
  readonly secret: string;
}

export type CredentialsFor = (host: string) => Credentials | undefined;

export interface Challenge {
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

/** Parses one WWW-Authenticate header value: `Scheme k=v, k="v", …[, Scheme2 …]`. */
export function parseChallenges(header: string): Challenge[] {
  const challenges: { scheme: string; params: Record<string, string> }[] = [];
  let i = 0;
  const skip = (re: RegExp) => {
    while (i < header.length && re.test(header[i]!)) i++;
  };
  const token = () => {
    const start = i;
    while (i < header.length && /[!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(header[i]!)) i++;
    return header.slice(start, i);
  };
  while (i < header.length) {
    skip(/[\s,]/);
    const word = token();
    if (!word) break;
    skip(/\s/);
    if (header[i] === '=' && challenges.length > 0) {
      i++;
      skip(/\s/);
      let value = '';
      if (header[i] === '"') {
        i++;
        while (i < header.length && header[i] !== '"') {
          if (header[i] === '\\') i++;
          value += header[i] ?? '';
          i++;
        }
        i++;
      } else {
        const start = i;
        while (i < header.length && header[i] !== ',') i++;
        value = header.slice(start, i).trim();
      }
      challenges[challenges.length - 1]!.params[word.toLowerCase()] = value;
    } else {
      challenges.push({ scheme: word.toLowerCase(), params: {} });
    }
  }
  return challenges;
}

/** The part of the transport the authorizer needs: a plain request without authorisation. */
export interface TokenTransport {
  get(url: string, headers: Record<string, string>): Promise<{ status: number; body: string }>;
  postForm(url: string, form: URLSearchParams): Promise<{ status: number; body: string }>;
}

interface HostAuth {
  readonly scheme: 'basic' | 'bearer';
  readonly realm?: string;
  readonly service?: string;
  readonly scopes: readonly string[];
}

export class AuthorizationDenied extends Error {}

const basic = (c: Credentials) => `Basic ${Buffer.from(`${c.username}:${c.secret}`).toString('base64')}`;

/** Holds what each registry host asked for and the tokens obtained for it. */
export class Authorizer {
  private readonly hosts = new Map<string, HostAuth>();
  private readonly tokens = new Map<string, Promise<string>>();

  constructor(
    private readonly transport: TokenTransport,
    private readonly credentials: CredentialsFor = () => undefined,
  ) {}

  /** The Authorization header for a request to `host` needing `scope`, if this host asked for one. */
  async authorize(host: string, scope: string | undefined): Promise<string | undefined> {
    const auth = this.hosts.get(host);
    if (!auth) return undefined;
    const creds = this.credentials(host);
    if (auth.scheme === 'basic') return creds ? basic(creds) : undefined;
    const scopes = [...new Set([...auth.scopes, ...(scope ? [scope] : [])])].sort();
    const key = `${host} ${scopes.join(' ')}`;
    let token = this.tokens.get(key);
    if (!token) {
      token = this.fetchToken(auth, scopes, creds);
      this.tokens.set(key, token);
      token.catch(() => this.tokens.delete(key));
    }
    return `Bearer ${await token}`;
  }

  /**
   * Learns from a 401. Returns false when retrying cannot help: no usable challenge, or the
   * same challenge again with an error after a request that already carried authorisation.
   */
  challenged(host: string, wwwAuthenticate: readonly string[], sentAuthorization: boolean): boolean {
    const challenges = wwwAuthenticate.flatMap(parseChallenges);
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    if (bearer) {
      if (!bearer.params.realm) return false;
      const previous = this.hosts.get(host);
      const scopes = (bearer.params.scope ?? '').split(' ').filter(Boolean);
      if (sentAuthorization && bearer.params.error && previous?.scheme === 'bearer') {
        // the token we sent was refused: forget it; retry only if the scope asked for is new
        for (const key of this.tokens.keys()) if (key.startsWith(`${host} `)) this.tokens.delete(key);
        if (scopes.every((s) => previous.scopes.includes(s))) return false;
      }
      this.hosts.set(host, { scheme: 'bearer', realm: bearer.params.realm, service: bearer.params.service, scopes: [...new Set([...(previous?.scopes ?? []), ...scopes])] });
      return true;
    }
    if (challenges.some((c) => c.scheme === 'basic')) {
      if (!this.credentials(host) || (sentAuthorization && this.hosts.get(host)?.scheme === 'basic')) return false;
      this.hosts.set(host, { scheme: 'basic', scopes: [] });
      return true;
    }
    return false;
  }

  private async fetchToken(auth: HostAuth, scopes: readonly string[], creds: Credentials | undefined): Promise<string> {
    const realm = auth.realm!;
    if (creds) {
      const form = new URLSearchParams({ client_id: 'containerd-client', ...(auth.service ? { service: auth.service } : {}), scope: scopes.join(' ') });
      if (creds.username) {
        form.set('grant_type', 'password');
        form.set('username', creds.username);
        form.set('password', creds.secret);
      } else {
        form.set('grant_type', 'refresh_token');
        form.set('refresh_token', creds.secret);
      }
      const posted = await this.transport.postForm(realm, form);
      const fallback = posted.status === 404 || posted.status === 401 || posted.status === 400 || (posted.status === 405 && !!creds.username);
      if (!fallback) return tokenFrom(posted, realm);
    }
    const url = new URL(realm);
    if (auth.service) url.searchParams.set('service', auth.service);
    for (const scope of scopes) url.searchParams.append('scope', scope);
    return tokenFrom(await this.transport.get(url.toString(), creds ? { authorization: basic(creds) } : {}), realm);
  }
}

function tokenFrom(response: { status: number; body: string }, realm: string): string {
  if (response.status === 401 || response.status === 403) {
    throw new AuthorizationDenied(`pull access denied, repository does not exist or may require authorization: token server ${realm} answered ${response.status}`);
  }
  if (response.status < 200 || response.status > 299) throw new Error(`token server ${realm} answered ${response.status}: ${response.body.slice(0, 200)}`);
  let parsed: { token?: string; access_token?: string };
  try {
    parsed = JSON.parse(response.body);
  } catch {
    throw new Error(`token server ${realm} answered with something that is not JSON`);
  }
  const token = parsed.access_token || parsed.token;
  if (!token) throw new Error(`token server ${realm} answered without a token`);
  return token;
}
