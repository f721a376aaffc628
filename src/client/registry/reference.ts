// Image references as Docker normalises them (distribution/reference ParseDockerRef):
// "busybox" is docker.io/library/busybox:latest, "host:5000/a/b@sha256:…" keeps its host.

export interface ImageReference {
  /** Registry host as written (docker.io for Docker Hub), with its port if any. */
  readonly domain: string;
  /** Repository path within the registry, e.g. library/busybox. */
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: string;
}

const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_REPOSITORY_PREFIX = 'library/';
const NAME_MAX = 255;

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$/;
const DOMAIN = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const HEX64 = /^[a-f0-9]{64}$/;

export class ReferenceError extends Error {
  constructor(input: string, reason: string) {
    super(`invalid reference "${input}": ${reason}`);
    this.name = 'ReferenceError';
  }
}

/** Splits off the registry host the way Docker does: a first component with "." or ":", or "localhost". */
function splitDomain(name: string): [string, string] {
  const slash = name.indexOf('/');
  const first = slash < 0 ? '' : name.slice(0, slash);
  let domain = DEFAULT_DOMAIN;
  let rest = name;
  if (slash >= 0 && (/[.:]/.test(first) || first === 'localhost' || first.toLowerCase() !== first)) {
    domain = first;
    rest = name.slice(slash + 1);
  }
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !rest.includes('/')) rest = OFFICIAL_REPOSITORY_PREFIX + rest;
  return [domain, rest];
}

/** Parses and normalises a reference; a name without tag or digest gets the tag "latest". */
export function parseReference(input: string): ImageReference {
  if (!input) throw new ReferenceError(input, 'empty');
  if (HEX64.test(input)) throw new ReferenceError(input, 'cannot specify 64-byte hexadecimal strings');
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw new ReferenceError(input, `"${digest}" is not a digest`);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw new ReferenceError(input, `"${tag}" is not a valid tag`);
  }
  const [domain, repository] = splitDomain(rest);
  if (!DOMAIN.test(domain)) throw new ReferenceError(input, `"${domain}" is not a valid registry host`);
  if (repository.toLowerCase() !== repository) throw new ReferenceError(input, 'repository name must be lowercase');
  if (!repository.split('/').every((c) => COMPONENT.test(c))) throw new ReferenceError(input, `"${repository}" is not a valid repository name`);
  if (domain.length + 1 + repository.length > NAME_MAX) throw new ReferenceError(input, `repository name must not be more than ${NAME_MAX} characters`);
  if (!tag && !digest) tag = 'latest';
  return { domain, repository, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/** The name without tag or digest: docker.io/library/busybox. */
export const referenceName = (ref: ImageReference): string => `${ref.domain}/${ref.repository}`;

/** The full normalised form: domain/repository[:tag][@digest]. */
export const formatReference = (ref: ImageReference): string =>
  `${referenceName(ref)}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;

/** What the registry's manifests endpoint is asked for: the digest if any, else the tag. */
export const referenceObject = (ref: ImageReference): string => ref.digest ?? ref.tag ?? 'latest';
