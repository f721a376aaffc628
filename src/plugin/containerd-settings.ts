/**
 * Every [plugins."<uri>"] section containerd 1.6 reads, with its keys and their default values
 * (what `containerd config default` prints, plus the CRI keys it leaves out). ledgerd reads a
 * containerd config.toml as it is: a key here that no ledgerd plugin acts on is accepted,
 * type-checked against this default, and named in the start-up warning; a key that neither
 * ledgerd nor containerd has is a typo and an error.
 *
 * An empty table is free-form: containerd decodes it into a map (runtimes by name, registry
 * mirrors by host, runc options), so any key below it is accepted.
 */

const runtime = () => ({
  runtime_type: '',
  runtime_engine: '',
  runtime_root: '',
  runtime_path: '',
  pod_annotations: [] as string[],
  container_annotations: [] as string[],
  privileged_without_host_devices: false,
  base_runtime_spec: '',
  cni_conf_dir: '',
  cni_max_conf_num: 0,
  options: {},
});

export const CONTAINERD_PLUGIN_SETTINGS: Readonly<Record<string, Record<string, unknown>>> = {
  'io.containerd.gc.v1.scheduler': {
    pause_threshold: 0.02,
    deletion_threshold: 0,
    mutation_threshold: 100,
    schedule_delay: '0s',
    startup_delay: '100ms',
  },
  'io.containerd.grpc.v1.cri': {
    sandbox_image: 'registry.k8s.io/pause:3.6',
    stats_collect_period: 10,
    systemd_cgroup: false,
    enable_selinux: false,
    selinux_category_range: 1024,
    max_container_log_line_size: 16384,
    max_concurrent_downloads: 3,
    disable_tcp_service: true,
    stream_server_address: '127.0.0.1',
    stream_server_port: '0',
    stream_idle_timeout: '4h0m0s',
    enable_tls_streaming: false,
    restrict_oom_score_adj: false,
    disable_cgroup: false,
    disable_apparmor: false,
    disable_proc_mount: false,
    tolerate_missing_hugetlb_controller: true,
    disable_hugetlb_controller: true,
    netns_mounts_under_state_dir: false,
    device_ownership_from_security_context: false,
    ignore_image_defined_volumes: false,
    enable_unprivileged_ports: false,
    enable_unprivileged_icmp: false,
    unset_seccomp_profile: '',
    image_pull_progress_timeout: '1m0s',
    containerd: {
      snapshotter: 'overlayfs',
      default_runtime_name: 'runc',
      no_pivot: false,
      disable_snapshot_annotations: true,
      discard_unpacked_layers: false,
      ignore_rdt_not_enabled_errors: false,
      default_runtime: runtime(),
      untrusted_workload_runtime: runtime(),
      runtimes: {},
    },
    cni: { bin_dir: '/opt/cni/bin', conf_dir: '/etc/cni/net.d', max_conf_num: 1, conf_template: '', ip_pref: '' },
    registry: { config_path: '', mirrors: {}, configs: {}, auths: {}, headers: {} },
    image_decryption: { key_model: 'node' },
    x509_key_pair_streaming: { tls_cert_file: '', tls_key_file: '' },
  },
  'io.containerd.internal.v1.opt': { path: '/opt/containerd' },
  'io.containerd.internal.v1.restart': { interval: '10s' },
  'io.containerd.internal.v1.tracing': { sampling_ratio: 1.0, service_name: 'containerd' },
  'io.containerd.metadata.v1.bolt': { content_sharing_policy: 'shared' },
  'io.containerd.monitor.v1.cgroups': { no_prometheus: false },
  'io.containerd.runtime.v1.linux': { shim: 'containerd-shim', runtime: 'runc', runtime_root: '', no_shim: false, shim_debug: false },
  'io.containerd.runtime.v2.task': { platforms: ['linux/amd64'], sched_core: false },
  'io.containerd.service.v1.diff-service': { default: ['walking'] },
  'io.containerd.service.v1.tasks-service': { rdt_config_file: '' },
  'io.containerd.snapshotter.v1.aufs': { root_path: '' },
  'io.containerd.snapshotter.v1.btrfs': { root_path: '' },
  'io.containerd.snapshotter.v1.devmapper': {
    root_path: '',
    pool_name: '',
    base_image_size: '',
    async_remove: false,
    discard_blocks: false,
    fs_type: '',
    fs_options: '',
  },
  'io.containerd.snapshotter.v1.native': { root_path: '' },
  'io.containerd.snapshotter.v1.overlayfs': { root_path: '', upperdir_label: false },
  'io.containerd.snapshotter.v1.zfs': { root_path: '' },
  'io.containerd.tracing.processor.v1.otlp': { endpoint: '', protocol: '', insecure: false },
};

/** Whether containerd's section `uri` has the dotted key `path` (inside a free-form table counts). */
export function containerdHasSetting(uri: string, path: string): boolean {
  let node: unknown = CONTAINERD_PLUGIN_SETTINGS[uri];
  for (const part of path.split('.')) {
    if (!isTable(node)) return false;
    if (Object.keys(node).length === 0) return true;
    if (!Object.hasOwn(node, part)) return false;
    node = node[part];
  }
  return node !== undefined;
}

const isTable = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
