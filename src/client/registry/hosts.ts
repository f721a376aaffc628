// Where a registry host is reached (remotes/docker/config/hosts.go defaults): docker.io is
// registry-1.docker.io over https, localhost and loopback addresses speak plain http, everything
// else https unless the caller asks for plain http.
import { isIP } from 'node:net';

export interface RegistryEndpoint {
  /** e.g. http://127.0.0.1:5000 — origin only. */
  readonly origin: string;
  /** The host name as the reference wrote it (docker.io, 127.0.0.1:5000). */
  readonly domain: string;
}

export interface HostOptions {
  /** http for every host (ctr --plain-http). */
  readonly plainHttp?: boolean;
}

function hostName(domain: string): string {
  if (domain.startsWith('[')) return domain.slice(1, domain.indexOf(']'));
  const colon = domain.lastIndexOf(':');
  return colon >= 0 ? domain.slice(0, colon) : domain;
}

/** docker.IsLocalhost: "localhost" or a loopback IP, with any port. */
export function isLocalhost(domain: string): boolean {
  const host = hostName(domain);
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || /^(0{0,4}:){7}0{0,3}1$/.test(host);
  return false;
}

export function registryEndpoint(domain: string, options: HostOptions = {}): RegistryEndpoint {
  if (domain === 'docker.io') return { origin: 'https://registry-1.docker.io', domain };
  const scheme = options.plainHttp || isLocalhost(domain) ? 'http' : 'https';
  return { origin: `${scheme}://${domain}`, domain };
}

/** The host part without port: the suffix of containerd's distribution.source label. */
export const sourceHost = (domain: string): string => hostName(domain);
