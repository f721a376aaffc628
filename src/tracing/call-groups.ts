/**
 * Which trace a call joins when its client sends no trace context.
 *
 * Decision: ctr 1.6 and containerd 1.6's Go client send none (their dial options have no otelgrpc
 * interceptor; containerd 1.7 added it), so one `ctr run` reaches the daemon as a dozen unrelated
 * calls. ledgerd groups them by what they name: calls that name the same container id in one
 * namespace join one trace, rooted at the first of them. A call names a container by the
 * container's id (Containers), the task's container_id (Tasks), or a snapshot key (Snapshots: ctr
 * and the containerd client name a container's snapshot after the container). For `ctr run` the
 * root is Snapshots.Prepare of its snapshot; Containers.Create, the Tasks calls, Containers.Delete
 * and the snapshot's removal are children of it, and so are the shim's reports of the task's
 * start and exit (what the daemon records of them). Calls that name no container (image, content
 * and lease calls, Version, List) stay traces of their own.
 *
 * A group ends a short grace after its container's delete (the client removes the snapshot just
 * after), after an hour, or when 4096 newer groups push it out; a later call naming the id then
 * starts a new trace. A Create or Prepare of an id whose container was deleted starts a new trace
 * at once, so a reused id never joins the previous container's trace. A client that sends a W3C
 * `traceparent` keeps its own trace: grouping applies only to calls without one.
 */

/** What a call names, for grouping. */
export interface CallSubject {
  readonly key: string;
  /** Creates the thing named (Containers.Create, Snapshots.Prepare/View): never joins a deleted container's group. */
  readonly opens: boolean;
  /** Deletes the container (Containers.Delete): its group ends after the grace. */
  readonly closes: boolean;
}

const CONTAINERS = '/containerd.services.containers.v1.Containers/';
const TASKS = '/containerd.services.tasks.v1.Tasks/';
const SNAPSHOTS = '/containerd.services.snapshots.v1.Snapshots/';
const SNAPSHOT_METHODS = new Set(['Prepare', 'View', 'Mounts', 'Commit', 'Remove']);

const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

/** The container a call names, read from its request (as the services decode it, snake_case fields). */
export function subjectOf(path: string, namespace: string | undefined, request: unknown): CallSubject | undefined {
  if (!namespace || typeof request !== 'object' || request === null) return undefined;
  const fields = request as Record<string, unknown>;
  let id: string | undefined;
  let opens = false;
  let closes = false;
  if (path.startsWith(CONTAINERS)) {
    const method = path.slice(CONTAINERS.length);
    id = method === 'Create' || method === 'Update' ? text((fields.container as Record<string, unknown> | undefined)?.id) : text(fields.id);
    opens = method === 'Create';
    closes = method === 'Delete';
  } else if (path.startsWith(TASKS)) {
    id = text(fields.container_id);
  } else if (path.startsWith(SNAPSHOTS)) {
    const method = path.slice(SNAPSHOTS.length);
    if (!SNAPSHOT_METHODS.has(method)) return undefined;
    id = text(fields.key);
    opens = method === 'Prepare' || method === 'View';
  }
  return id === undefined ? undefined : { key: containerKey(namespace, id), opens, closes };
}

export const containerKey = (namespace: string, id: string) => `${namespace}/${id}`;

interface Group<T> {
  readonly root: T;
  readonly openedAt: number;
  closedAt?: number;
}

export interface CallGroupLimits {
  /** How long after its container's delete a group still takes calls (the client's clean-up). */
  readonly closeGraceMs: number;
  readonly maxAgeMs: number;
  readonly maxGroups: number;
}

const DEFAULT_LIMITS: CallGroupLimits = { closeGraceMs: 10_000, maxAgeMs: 3_600_000, maxGroups: 4096 };

/** The live groups: by subject key, the root span's context (T) of its trace. */
export class CallGroups<T> {
  /** In order of opening, so the first entry is the oldest. */
  private readonly groups = new Map<string, Group<T>>();

  constructor(
    private readonly limits: CallGroupLimits = DEFAULT_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  /** The root a call on `subject` joins, if its group is live; undefined: the call is a new root. */
  rootFor(subject: CallSubject): T | undefined {
    const group = this.groups.get(subject.key);
    if (!group) return undefined;
    const now = this.now();
    const over = now - group.openedAt > this.limits.maxAgeMs || (group.closedAt !== undefined && (subject.opens || now - group.closedAt > this.limits.closeGraceMs));
    if (!over) return group.root;
    this.groups.delete(subject.key);
    return undefined;
  }

  /** Records the call that had no root as the root of its subject's group. */
  open(subject: CallSubject, root: T): void {
    this.groups.delete(subject.key);
    this.groups.set(subject.key, { root, openedAt: this.now() });
    while (this.groups.size > this.limits.maxGroups) this.groups.delete(this.groups.keys().next().value!);
  }

  /** The subject's container was deleted: its group takes calls for the grace only. */
  close(subject: CallSubject): void {
    const group = this.groups.get(subject.key);
    if (group && group.closedAt === undefined) group.closedAt = this.now();
  }

  get size(): number {
    return this.groups.size;
  }
}
