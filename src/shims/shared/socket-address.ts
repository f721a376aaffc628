// Where a shim listens: one socket per (daemon, namespace, group), named like containerd's
// shim.SocketAddress (sha256 of "<daemon address>/<namespace>/<group>"), in a 0700 directory
// `s/` under the daemon's state directory (derived from the bundle path) rather than the fixed
// /run/containerd/s, so two daemons on a host never meet. Never an abstract socket.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { basename, dirname, join } from 'node:path';

/** containerd's fixed socket directory: the fallback when the bundle is not in a state directory. */
export const FALLBACK_SOCKET_DIR = '/run/containerd/s';
const TASK_DIR = 'io.containerd.runtime.v2.task';
/** sun_path holds 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH = 107;

/** Annotations that put containers in one shim, in order (runc shim manager_linux.go groupLabels). */
export const GROUP_ANNOTATIONS = ['io.containerd.runc.v2.group', 'io.kubernetes.cri.sandbox-id'];

export const namesGroup = (annotations: Record<string, string> | undefined): boolean => GROUP_ANNOTATIONS.some((key) => annotations?.[key] !== undefined);

export function groupOf(id: string, annotations: Record<string, string> | undefined): string {
  for (const key of GROUP_ANNOTATIONS) {
    const group = annotations?.[key];
    if (group !== undefined) return group;
  }
  return id;
}

/** <state>/s for a bundle at <state>/io.containerd.runtime.v2.task/<ns>/<id>, else undefined. */
export function stateSocketDir(bundle: string): string | undefined {
  const tasks = dirname(dirname(bundle));
  return basename(tasks) === TASK_DIR ? join(dirname(tasks), 's') : undefined;
}

/** The socket path (no scheme) for a group. */
export function socketPath(daemonAddress: string, namespace: string, group: string, bundle: string): string {
  const name = createHash('sha256').update(join(daemonAddress, namespace, group)).digest('hex');
  const dir = stateSocketDir(bundle);
  if (dir && join(dir, name).length <= MAX_SOCKET_PATH) return join(dir, name);
  return join(FALLBACK_SOCKET_DIR, name);
}

export const toAddress = (path: string): string => `unix://${path}`;
export const fromAddress = (address: string): string => address.replace(/^unix:\/\//, '');

/** The socket of the group the bundle's container belongs to (its config.json annotations). */
export function groupSocketPath(daemonAddress: string, namespace: string, id: string, bundle: string): string {
  const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as { annotations?: Record<string, string> };
  return socketPath(daemonAddress, namespace, groupOf(id, spec.annotations), bundle);
}

/**
 * Errors of a dial that prove nobody serves on the path: a socket file with no listener, or no
 * file. Anything else (EAGAIN: the listener's backlog is full, as under load) is no such proof.
 */
const NOBODY_LISTENS = new Set(['ECONNREFUSED', 'ENOENT']);

/**
 * Whether a shim may serve on the socket file: false only when a dial proves nobody does (the
 * caller then removes the file and listens there itself, so a live shim taken for dead would
 * lose its socket, and every container it serves with it).
 */
export function canConnect(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(!NOBODY_LISTENS.has(err.code ?? '')));
  });
}
