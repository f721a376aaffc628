// Registry failures, reported as containerd does: the URL, the HTTP status, and the registry's
// own error codes and messages from its JSON body ({"errors":[{code,message,detail}]}).

export interface RegistryErrorDetail {
  readonly code: string;
  readonly message: string;
}

export class RegistryError extends Error {
  constructor(
    readonly method: string,
    readonly url: string,
    readonly status: number,
    readonly statusText: string,
    readonly errors: readonly RegistryErrorDetail[] = [],
  ) {
    const server = errors.map((e) => `${e.code}: ${e.message}`).join('; ');
    super(`unexpected status from ${method} ${url}: ${status}${statusText ? ` ${statusText}` : ''}${server ? ` - server message: ${server}` : ''}`);
    this.name = 'RegistryError';
  }

  get notFound(): boolean {
    return this.status === 404;
  }
}

/** The registry's error list from a response body, if it has one. */
export function registryErrors(body: string): RegistryErrorDetail[] {
  try {
    const parsed = JSON.parse(body);
    if (!Array.isArray(parsed?.errors)) return [];
    return parsed.errors.map((e: { code?: unknown; message?: unknown }) => ({ code: String(e.code ?? 'UNKNOWN'), message: String(e.message ?? '') }));
  } catch {
    return [];
  }
}

/** A blob whose bytes do not hash to the digest it was asked by: never stored. */
export class DigestMismatchError extends Error {
  constructor(
    readonly url: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`${url}: content digest ${actual} does not match the expected ${expected}; refusing it`);
    this.name = 'DigestMismatchError';
  }
}
