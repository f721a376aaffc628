// The settings of [plugins."io.containerd.grpc.v1.cri"] that ledgerd acts on, with containerd
// 1.6's defaults (pkg/cri/config/config_unix.go). The other CRI keys containerd has are read and
// named in the start-up warning (plugin/containerd-settings.ts).

export interface CriRuntimeConfig {
  runtime_type: string;
  pod_annotations: string[];
  options: Record<string, unknown>;
  /** Privileged containers of this runtime get no host devices. */
  privileged_without_host_devices: boolean;
}

export interface CriConfig {
  sandbox_image: string;
  restrict_oom_score_adj: boolean;
  enable_selinux: boolean;
  max_container_log_line_size: number;
  max_concurrent_downloads: number;
  stream_server_address: string;
  stream_server_port: string;
  /** Go duration; a streaming connection without traffic for this long is closed. */
  stream_idle_timeout: string;
  enable_tls_streaming: boolean;
  x509_key_pair_streaming: { tls_cert_file: string; tls_key_file: string };
  tolerate_missing_hugetlb_controller: boolean;
  disable_hugetlb_controller: boolean;
  /** The seccomp profile of a container or pod whose security context names none ('' = none). */
  unset_seccomp_profile: string;
  /** Keep the default spec's masked and read-only /proc paths, whatever the security context asks. */
  disable_proc_mount: boolean;
  containerd: {
    snapshotter: string;
    default_runtime_name: string;
    /** By name; an empty table in the defaults, so any runtime name is accepted. */
    runtimes: Record<string, Partial<CriRuntimeConfig>>;
  };
  cni: { bin_dir: string; conf_dir: string; max_conf_num: number };
  registry: { config_path: string };
}

export const defaultCriConfig = (): CriConfig => ({
  sandbox_image: 'registry.k8s.io/pause:3.6',
  restrict_oom_score_adj: false,
  enable_selinux: false,
  max_container_log_line_size: 16384,
  max_concurrent_downloads: 3,
  stream_server_address: '127.0.0.1',
  stream_server_port: '0',
  stream_idle_timeout: '4h0m0s',
  enable_tls_streaming: false,
  x509_key_pair_streaming: { tls_cert_file: '', tls_key_file: '' },
  tolerate_missing_hugetlb_controller: true,
  disable_hugetlb_controller: true,
  unset_seccomp_profile: '',
  disable_proc_mount: false,
  containerd: { snapshotter: 'overlayfs', default_runtime_name: 'runc', runtimes: {} },
  cni: { bin_dir: '/opt/cni/bin', conf_dir: '/etc/cni/net.d', max_conf_num: 1 },
  registry: { config_path: '' },
});

/** containerd's namespace for everything the CRI does. */
export const CRI_NAMESPACE = 'k8s.io';
