/**
 * Pod sandbox aggregate (the CRI's pods): stream "pods/<id>" in namespace k8s.io. Each event is
 * appended after the effect it records (netns, CNI ADD, pause container and task for Created;
 * task killed and CNI DEL for Stopped; everything removed for Removed). Pods publish no
 * containerd topics: their pause containers' and tasks' own events do.
 */
export const podStream = (id: string) => `pods/${id}`;

export interface PodMetadata {
  readonly name: string;
  readonly uid: string;
  readonly namespace: string;
  readonly attempt: number;
}

export interface PodSandboxCreated {
  readonly id: string;
  readonly metadata: PodMetadata;
  /** The CRI PodSandboxConfig as the client sent it (plain data). */
  readonly config: Record<string, unknown>;
  readonly runtimeHandler: string;
  /** "" with the host's network. */
  readonly netnsPath: string;
  readonly ips: readonly string[];
  /** The CNI results, per network, for DEL (what libcni caches under /var/lib/cni). */
  readonly cniResults: readonly { readonly network: string; readonly ifname: string; readonly result: unknown }[];
  readonly pid: number;
}

export interface PodSandboxStopped {
  readonly id: string;
}

export interface PodSandboxRemoved {
  readonly id: string;
}

export interface PodEvents {
  PodSandboxCreated: PodSandboxCreated;
  PodSandboxStopped: PodSandboxStopped;
  PodSandboxRemoved: PodSandboxRemoved;
}
