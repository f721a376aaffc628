/**
 * The CRI's containers: stream "cri-containers/<id>" in namespace k8s.io. Created is appended
 * once the containerd container (snapshot, spec) exists; ResourcesUpdated after each
 * UpdateContainerResources; Removed once it is gone. Whether it
 * runs and how it ended is not repeated here: the task's own events (TaskStarted, TaskExited,
 * TaskOOM of the container with this id) say it, and the projection folds them in.
 */
export const criContainerStream = (id: string) => `cri-containers/${id}`;

export interface CriContainerCreated {
  readonly id: string;
  readonly podId: string;
  readonly metadata: { readonly name: string; readonly attempt: number };
  /** The CRI ContainerConfig as the client sent it (plain data). */
  readonly config: Record<string, unknown>;
  /** The image's id (config digest) and the reference the client named. */
  readonly imageId: string;
  readonly imageRef: string;
  /** Absolute path of the CRI log file ("" for none). */
  readonly logPath: string;
  /** The resources in effect at create (CRI LinuxContainerResources; absent in older records). */
  readonly resources?: Record<string, unknown>;
}

/** UpdateContainerResources: the spec and, for a running task, its cgroup now hold these. */
export interface CriContainerResourcesUpdated {
  readonly id: string;
  /** The resources in effect after the update (CRI LinuxContainerResources, every field). */
  readonly resources: Record<string, unknown>;
}

export interface CriContainerRemoved {
  readonly id: string;
}

export interface CriContainerEvents {
  CriContainerCreated: CriContainerCreated;
  CriContainerRemoved: CriContainerRemoved;
  CriContainerResourcesUpdated: CriContainerResourcesUpdated;
}
