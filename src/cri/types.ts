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
    security_context?: { namespace_options?: { network?: string; pid?: string; ipc?: string } };
  };
}
