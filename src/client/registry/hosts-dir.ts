// Registry hosts from a containerd hosts directory (remotes/docker/config/hosts.go, the CRI's
// registry.config_path): <dir>/<host[:port]>/hosts.toml, else <dir>/_default/hosts.toml, names
// the mirrors to try before the upstream `server`, each with the capabilities it may be used for.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { registryEndpoint, type RegistryEndpoint } from './hosts.js';

export type HostCapability = 'pull' | 'resolve' | 'push';

export interface RegistryHost extends RegistryEndpoint {
  readonly capabilities: readonly HostCapability[];
}

const ALL: readonly HostCapability[] = ['pull', 'resolve', 'push'];

/**
 * The hosts for a registry in the order they are tried: the `[host."<url>"]` tables in file
 * order, then `server` (or the registry's default endpoint) with every capability. Without a
 * hosts.toml the default endpoint alone. A malformed file is an error naming it.
 */
export function hostsFromDir(dir: string, domain: string): RegistryHost[] {
  const upstream: RegistryHost = { ...registryEndpoint(domain), capabilities: ALL };
  const file = [join(dir, domain, 'hosts.toml'), join(dir, '_default', 'hosts.toml')].find(readable);
  if (!file) return [upstream];
  let table: Record<string, unknown>;
  try {
    table = parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${file}: invalid TOML: ${(err as Error).message}`);
  }
  const hosts: RegistryHost[] = Object.entries((table.host as Record<string, { capabilities?: unknown }> | undefined) ?? {}).map(([url, host]) => ({
    origin: origin(file, url),
    domain,
    capabilities: capabilities(file, url, host.capabilities),
  }));
  const server = typeof table.server === 'string' ? { origin: origin(file, table.server), domain, capabilities: ALL } : upstream;
  return [...hosts, server];
}

/** The hosts that may resolve tags and pull blobs, in the order a pull tries them. */
export function pullHosts(hosts: readonly RegistryHost[]): RegistryHost[] {
  return hosts.filter((h) => h.capabilities.includes('pull') && h.capabilities.includes('resolve'));
}


function readable(path: string): boolean {
  try {
    readFileSync(path);
    return true;
  } catch {
    return false;
  }
}

function origin(file: string, url: string): string {
  const withScheme = /^[a-z]+:\/\//.test(url) ? url : `https://${url}`;
  try {
    return new URL(withScheme).origin;
  } catch {
    throw new Error(`${file}: "${url}" is not a host URL`);
  }
}

function capabilities(file: string, url: string, value: unknown): HostCapability[] {
  if (value === undefined) return [...ALL];
  if (!Array.isArray(value) || !value.every((c) => ALL.includes(c))) {
    throw new Error(`${file}: host "${url}": capabilities must be a list of "pull", "resolve", "push"`);
  }
  return value as HostCapability[];
}
