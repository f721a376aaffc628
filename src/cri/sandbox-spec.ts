// The pause container's OCI spec (pkg/cri/server/sandbox_run_linux.go sandboxContainerSpec) and
// the files a pod's containers share (hostname, hosts, resolv.conf).
import { readFileSync } from 'node:fs';
import { hostname as hostHostname } from 'node:os';
import { defaultSpec, withImageConfig, type ImageRunConfig, type RuntimeSpec } from '../client/run/oci-spec.js';
import { CRI_NAMESPACE } from './config.js';
import { oomScoreAdj } from './resources.js';
import { cgroupsPath } from './runtime-options.js';
import type { PodSandboxConfig } from './types.js';

/** containerd's defaultSandboxOOMAdj: the pause process is among the last the kernel kills. */
const SANDBOX_OOM_SCORE_ADJ = -998;

export const ANNOTATIONS = {
  containerType: 'io.kubernetes.cri.container-type',
  sandboxId: 'io.kubernetes.cri.sandbox-id',
  sandboxName: 'io.kubernetes.cri.sandbox-name',
  sandboxNamespace: 'io.kubernetes.cri.sandbox-namespace',
  sandboxLogDir: 'io.kubernetes.cri.sandbox-log-directory',
} as const;

export interface NamespaceModes {
  readonly network: string;
  readonly pid: string;
  readonly ipc: string;
}

export function namespaceModes(config: PodSandboxConfig): NamespaceModes {
  const options = config.linux?.security_context?.namespace_options ?? {};
  return { network: options.network ?? 'POD', pid: options.pid ?? 'POD', ipc: options.ipc ?? 'POD' };
}

export interface SandboxSpecInput {
  readonly id: string;
  readonly config: PodSandboxConfig;
  readonly image: ImageRunConfig;
  readonly netnsPath: string;
  /** The host directory that is the pod's /dev/shm. */
  readonly shm: string;
  readonly restrictOomScoreAdj: boolean;
  readonly podAnnotations: readonly string[];
}

export function sandboxSpec(input: SandboxSpecInput): RuntimeSpec {
  const { id, config } = input;
  const spec = withImageConfig(defaultSpec(CRI_NAMESPACE, id), input.image, []);
  const modes = namespaceModes(config);
  spec.hostname = modes.network === 'NODE' ? hostHostname() : config.hostname || undefined;
  spec.root.readonly = true;
  spec.mounts = [...spec.mounts.filter((m) => m.destination !== '/dev/shm'), { destination: '/dev/shm', type: 'bind', source: input.shm, options: ['rbind', 'ro', 'nosuid', 'nodev', 'noexec'] }];
  const linux = spec.linux as { namespaces: { type: string; path?: string }[]; cgroupsPath?: string; sysctl?: Record<string, string> };
  linux.namespaces = linux.namespaces
    .filter((ns) => !(ns.type === 'network' && modes.network === 'NODE'))
    .filter((ns) => !(ns.type === 'pid' && modes.pid === 'NODE'))
    .filter((ns) => !(ns.type === 'ipc' && modes.ipc === 'NODE'))
    .map((ns) => (ns.type === 'network' ? { type: 'network', path: input.netnsPath } : ns));
  const parent = config.linux?.cgroup_parent;
  if (parent) linux.cgroupsPath = cgroupsPath(parent, id);
  const sysctls = config.linux?.sysctls ?? {};
  if (Object.keys(sysctls).length > 0) linux.sysctl = { ...sysctls };
  spec.process.oomScoreAdj = oomScoreAdj(SANDBOX_OOM_SCORE_ADJ, input.restrictOomScoreAdj);
  const metadata = config.metadata ?? {};
  const annotations: Record<string, string> = {};
  for (const [key, value] of Object.entries(config.annotations ?? {})) {
    if (input.podAnnotations.some((pattern) => annotationMatches(pattern, key))) annotations[key] = value;
  }
  Object.assign(annotations, {
    [ANNOTATIONS.containerType]: 'sandbox',
    [ANNOTATIONS.sandboxId]: id,
    [ANNOTATIONS.sandboxName]: metadata.name ?? '',
    [ANNOTATIONS.sandboxNamespace]: metadata.namespace ?? '',
    [ANNOTATIONS.sandboxLogDir]: config.log_directory ?? '',
  });
  spec.annotations = annotations;
  return spec;
}

/** A pod_annotations entry: an exact key, or a prefix ending in "*". */
const annotationMatches = (pattern: string, key: string) => (pattern.endsWith('*') ? key.startsWith(pattern.slice(0, -1)) : pattern === key);

/** /etc/resolv.conf for the pod: the DNS config when given, else the host's. */
export function resolvConf(config: PodSandboxConfig): string {
  const dns = config.dns_config;
  if (!dns || (!dns.servers?.length && !dns.searches?.length && !dns.options?.length)) {
    try {
      return readFileSync('/etc/resolv.conf', 'utf8');
    } catch {
      return '';
    }
  }
  const lines: string[] = [];
  if (dns.searches?.length) lines.push(`search ${dns.searches.join(' ')}`);
  for (const server of dns.servers ?? []) lines.push(`nameserver ${server}`);
  if (dns.options?.length) lines.push(`options ${dns.options.join(' ')}`);
  return `${lines.join('\n')}\n`;
}

export function hostsFile(): string {
  try {
    return readFileSync('/etc/hosts', 'utf8');
  } catch {
    return '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n';
  }
}
