// The CRI messages src/cri/ reads, as grpc-js hands them over (field names as in
// proto/k8s/runtime/v1/api.proto, enums as their names, int64 as numbers).

export interface PodSandboxMetadata {
  name?: string;
  uid?: string;
  namespace?: string;
  attempt?: number;
}

export interface PortMapping {
  protocol?: 'TCP' | 'UDP' | 'SCTP';
  container_port?: number;
  host_port?: number;
  host_ip?: string;
}

export interface PodSandboxConfig {
  metadata?: PodSandboxMetadata;
  hostname?: string;
  log_directory?: string;
  dns_config?: { servers?: string[]; searches?: string[]; options?: string[] };
  port_mappings?: PortMapping[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  linux?: {
    cgroup_parent?: string;
    sysctls?: Record<string, string>;
    security_context?: { namespace_options?: { network?: string; pid?: string; ipc?: string }; privileged?: boolean; seccomp?: SecurityProfile | null; seccomp_profile_path?: string };
  };
}

export interface KeyValue {
  key?: string;
  value?: string;
}

export interface CriMount {
  container_path?: string;
  host_path?: string;
  readonly?: boolean;
  propagation?: 'PROPAGATION_PRIVATE' | 'PROPAGATION_HOST_TO_CONTAINER' | 'PROPAGATION_BIDIRECTIONAL';
}

export interface LinuxContainerResources {
  cpu_period?: number;
  cpu_quota?: number;
  cpu_shares?: number;
  memory_limit_in_bytes?: number;
  oom_score_adj?: number;
  cpuset_cpus?: string;
  cpuset_mems?: string;
  hugepage_limits?: { page_size?: string; limit?: number }[];
  unified?: Record<string, string>;
  memory_swap_limit_in_bytes?: number;
}

export interface CriDevice {
  container_path?: string;
  host_path?: string;
  permissions?: string;
}

/** How a container or pod is confined by seccomp or apparmor; profile_type RuntimeDefault, Unconfined or Localhost. */
export interface SecurityProfile {
  profile_type?: string;
  localhost_ref?: string;
}

export interface LinuxContainerSecurityContext {
  run_as_user?: { value?: number } | null;
  run_as_group?: { value?: number } | null;
  run_as_username?: string;
  readonly_rootfs?: boolean;
  privileged?: boolean;
  no_new_privs?: boolean;
  capabilities?: { add_capabilities?: string[]; drop_capabilities?: string[] } | null;
  supplemental_groups?: number[];
  masked_paths?: string[];
  readonly_paths?: string[];
  namespace_options?: { pid?: string };
  seccomp?: SecurityProfile | null;
  seccomp_profile_path?: string;
  apparmor?: SecurityProfile | null;
  apparmor_profile?: string;
}

export interface ContainerConfig {
  metadata?: { name?: string; attempt?: number };
  image?: { image?: string };
  command?: string[];
  args?: string[];
  working_dir?: string;
  envs?: KeyValue[];
  mounts?: CriMount[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  log_path?: string;
  tty?: boolean;
  stdin?: boolean;
  stdin_once?: boolean;
  devices?: CriDevice[];
  linux?: {
    resources?: LinuxContainerResources | null;
    security_context?: LinuxContainerSecurityContext;
  };
}
