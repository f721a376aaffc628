// What the daemon's gRPC services and their clients (cli/, client/) both name: the full names of
// the services ledgerd serves (containerd's and ledgerd's own) and the request headers
// containerd's clients send.
export const SERVICES = {
  content: 'containerd.services.content.v1.Content',
  images: 'containerd.services.images.v1.Images',
  snapshots: 'containerd.services.snapshots.v1.Snapshots',
  containers: 'containerd.services.containers.v1.Containers',
  tasks: 'containerd.services.tasks.v1.Tasks',
  leases: 'containerd.services.leases.v1.Leases',
  diff: 'containerd.services.diff.v1.Diff',
  namespaces: 'containerd.services.namespaces.v1.Namespaces',
  events: 'containerd.services.events.v1.Events',
  introspection: 'containerd.services.introspection.v1.Introspection',
  version: 'containerd.services.version.v1.Version',
  health: 'grpc.health.v1.Health',
  gc: 'ledgerd.services.gc.v1.GC',
  log: 'ledgerd.services.log.v1.Log',
} as const;

/** The namespace a call works in (namespaces/grpc.go). */
export const NAMESPACE_HEADER = 'containerd-namespace';
/** The lease a call works under (leases/grpc.go). */
export const LEASE_HEADER = 'containerd-lease';
