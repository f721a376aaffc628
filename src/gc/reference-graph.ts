/**
 * Garbage collection's reference graph and its mark/sweep, as containerd derives them from labels
 * (metadata/gc.go), computed over the read models: a pure function of their state at one
 * sequence number, so "why does X live?" and "what would go?" have exact answers.
 *
 *   roots  = unexpired leases and what they hold, images' targets and labels, containers'
 *            snapshots and labels, content and snapshots labelled containerd.io/gc.root,
 *            uploads not held by a lease until they expire
 *   edges  = content/image/container labels containerd.io/gc.ref.content[./…] -> content,
 *            containerd.io/gc.ref.snapshot.<snapshotter>[/…] -> snapshot,
 *            snapshot -> its parent (also for gc.flat leases, whose resources follow no labels),
 *            a shared upload -> the blob it links
 */
export type NodeKind = 'content' | 'snapshot' | 'lease' | 'ingest';

export interface GcNode {
  readonly kind: NodeKind;
  readonly namespace: string;
  /** digest for content, "<snapshotter>/<key>" for snapshots, the id for leases, the ref for ingests. */
  readonly key: string;
}

/**
 * A map keyed by node, nested by kind, namespace and key. A joined id string would be built and
 * hashed afresh at every lookup; the read models' own key strings keep their hash (a plan over
 * 3,000 blobs spent most of its time hashing ids).
 */
export class NodeMap<V> {
  private readonly byKind = new Map<NodeKind, Map<string, Map<string, V>>>();

  get(node: GcNode): V | undefined {
    return this.byKind.get(node.kind)?.get(node.namespace)?.get(node.key);
  }

  has(node: GcNode): boolean {
    return this.byKind.get(node.kind)?.get(node.namespace)?.has(node.key) ?? false;
  }

  set(node: GcNode, value: V): void {
    let inKind = this.byKind.get(node.kind);
    if (!inKind) this.byKind.set(node.kind, (inKind = new Map()));
    let inNamespace = inKind.get(node.namespace);
    if (!inNamespace) inKind.set(node.namespace, (inNamespace = new Map()));
    inNamespace.set(node.key, value);
  }

  delete(node: GcNode): void {
    this.byKind.get(node.kind)?.get(node.namespace)?.delete(node.key);
  }
}

export interface GcLease {
  readonly id: string;
  readonly labels: Record<string, string>;
  readonly resources: readonly { id: string; type: string }[];
}

export interface GcSnapshot {
  readonly snapshotter: string;
  readonly key: string;
  readonly parent: string;
  readonly labels: Record<string, string>;
}

/** The read models' state as the collector sees it, per namespace. */
export interface GcInputs {
  namespaces(): readonly string[];
  leases(namespace: string): readonly GcLease[];
  images(namespace: string): readonly { name: string; targetDigest: string; labels: Record<string, string> }[];
  containers(namespace: string): readonly { id: string; snapshotter: string; snapshotKey: string; labels: Record<string, string> }[];
  content(namespace: string): readonly { digest: string; labels: Record<string, string> }[];
  snapshots(namespace: string): readonly GcSnapshot[];
  ingests(namespace: string): readonly GcIngest[];
}

export interface GcIngest {
  readonly ref: string;
  /** Uploads without a lease expire (nanoseconds since the epoch); until then they are roots. */
  readonly expiresAt?: bigint;
  /** The blob a shared upload links without bytes. */
  readonly shared?: string;
}

export const GC_ROOT = 'containerd.io/gc.root';
export const GC_EXPIRE = 'containerd.io/gc.expire';
export const GC_FLAT = 'containerd.io/gc.flat';
const CONTENT_REF = 'containerd.io/gc.ref.content';
const SNAPSHOT_REF = 'containerd.io/gc.ref.snapshot.';

/** Why a node is alive: a root (with what made it one) or a reference from another node. */
export type Reason = { readonly root: string } | { readonly from: GcNode; readonly label: string };

export interface MarkResult {
  /** Every live node, with the first reason found for it. */
  readonly live: NodeMap<{ node: GcNode; reason: Reason }>;
  /** Leases past their containerd.io/gc.expire: swept like garbage. */
  readonly expired: GcNode[];
}

/**
 * The inputs read once per namespace and kept: a plan's mark and sweep each walk them, and
 * listing a large read model is most of a plan's cost (3,000 blobs: ~0.5 ms a listing).
 */
export function readOnce(inputs: GcInputs): GcInputs {
  const once = <T>(read: (namespace: string) => T) => {
    const kept = new Map<string, T>();
    return (namespace: string): T => {
      if (!kept.has(namespace)) kept.set(namespace, read(namespace));
      return kept.get(namespace)!;
    };
  };
  const namespaces = inputs.namespaces();
  return {
    namespaces: () => namespaces,
    leases: once((ns) => inputs.leases(ns)),
    images: once((ns) => inputs.images(ns)),
    containers: once((ns) => inputs.containers(ns)),
    content: once((ns) => inputs.content(ns)),
    snapshots: once((ns) => inputs.snapshots(ns)),
    ingests: once((ns) => inputs.ingests(ns)),
  };
}

/** The nodes a set of labels points at. */
export function labelRefs(namespace: string, labels: Record<string, string>): { node: GcNode; label: string }[] {
  const refs: { node: GcNode; label: string }[] = [];
  for (const [label, value] of Object.entries(labels)) {
    if (label === CONTENT_REF || (label.startsWith(CONTENT_REF) && './'.includes(label[CONTENT_REF.length]!))) {
      refs.push({ node: { kind: 'content', namespace, key: value }, label });
    } else if (label.startsWith(SNAPSHOT_REF)) {
      const snapshotter = label.slice(SNAPSHOT_REF.length).split('/')[0]!;
      refs.push({ node: { kind: 'snapshot', namespace, key: `${snapshotter}/${value}` }, label });
    }
  }
  return refs;
}

/** A lease whose gc.expire time has passed; an unparsable time means no expiry (as containerd). */
export function isExpired(labels: Record<string, string>, now: Date): boolean {
  const value = labels[GC_EXPIRE];
  if (value === undefined) return false;
  const at = Date.parse(value);
  return !Number.isNaN(at) && at <= now.getTime();
}

export function mark(inputs: GcInputs, now: Date): MarkResult {
  const live = new NodeMap<{ node: GcNode; reason: Reason }>();
  const expired: GcNode[] = [];
  // nodes reached only through gc.flat leases do not follow their label references
  const flat = new NodeMap<true>();
  const gray: { node: GcNode; reason: Reason; flat: boolean }[] = [];
  const visit = (node: GcNode, reason: Reason, isFlat = false) => gray.push({ node, reason, flat: isFlat });

  const index = new NodeMap<{ labels: Record<string, string>; parent?: string; links?: string }>();
  const nowNs = BigInt(now.getTime()) * 1_000_000n;
  for (const ns of inputs.namespaces()) {
    for (const blob of inputs.content(ns)) index.set({ kind: 'content', namespace: ns, key: blob.digest }, { labels: blob.labels });
    for (const upload of inputs.ingests(ns)) {
      const node: GcNode = { kind: 'ingest', namespace: ns, key: upload.ref };
      index.set(node, { labels: {}, links: upload.shared });
      if (upload.expiresAt !== undefined && upload.expiresAt > nowNs) visit(node, { root: `upload expiring at ${new Date(Number(upload.expiresAt / 1_000_000n)).toISOString()}` });
    }
    for (const snap of inputs.snapshots(ns)) {
      index.set({ kind: 'snapshot', namespace: ns, key: `${snap.snapshotter}/${snap.key}` }, {
        labels: snap.labels,
        parent: snap.parent ? `${snap.snapshotter}/${snap.parent}` : undefined,
      });
    }

    for (const lease of inputs.leases(ns)) {
      const node: GcNode = { kind: 'lease', namespace: ns, key: lease.id };
      if (isExpired(lease.labels, now)) {
        expired.push(node);
        continue;
      }
      const isFlat = lease.labels[GC_FLAT] !== undefined;
      visit(node, { root: 'lease' });
      for (const resource of lease.resources) {
        if (resource.type === 'content') visit({ kind: 'content', namespace: ns, key: resource.id }, { from: node, label: 'lease resource' }, isFlat);
        else if (resource.type === 'ingests') visit({ kind: 'ingest', namespace: ns, key: resource.id }, { from: node, label: 'lease resource' }, isFlat);
        else if (resource.type.startsWith('snapshots/')) {
          const snapshotter = resource.type.slice('snapshots/'.length);
          visit({ kind: 'snapshot', namespace: ns, key: `${snapshotter}/${resource.id}` }, { from: node, label: 'lease resource' }, isFlat);
        }
      }
    }
    for (const image of inputs.images(ns)) {
      visit({ kind: 'content', namespace: ns, key: image.targetDigest }, { root: `image ${image.name}` });
      for (const ref of labelRefs(ns, image.labels)) visit(ref.node, { root: `image ${image.name} label ${ref.label}` });
    }
    for (const container of inputs.containers(ns)) {
      if (container.snapshotter && container.snapshotKey) {
        visit({ kind: 'snapshot', namespace: ns, key: `${container.snapshotter}/${container.snapshotKey}` }, { root: `container ${container.id}` });
      }
      for (const ref of labelRefs(ns, container.labels)) visit(ref.node, { root: `container ${container.id} label ${ref.label}` });
    }
    for (const blob of inputs.content(ns)) {
      if (blob.labels[GC_ROOT] !== undefined) visit({ kind: 'content', namespace: ns, key: blob.digest }, { root: GC_ROOT });
    }
    for (const snap of inputs.snapshots(ns)) {
      if (snap.labels[GC_ROOT] !== undefined) visit({ kind: 'snapshot', namespace: ns, key: `${snap.snapshotter}/${snap.key}` }, { root: GC_ROOT });
    }
  }

  while (gray.length > 0) {
    const { node, reason, flat: isFlat } = gray.pop()!;
    const known = index.get(node);
    if (node.kind !== 'lease' && !known) continue; // a reference to something that does not exist
    const seen = live.has(node);
    // a node seen only flat is visited again when a normal path reaches it, to follow its labels
    if (seen && (isFlat || !flat.has(node))) continue;
    if (!seen) live.set(node, { node, reason });
    if (isFlat) flat.set(node, true);
    else flat.delete(node);
    if (!known) continue;
    if (known.parent) visit({ kind: 'snapshot', namespace: node.namespace, key: known.parent }, { from: node, label: 'parent' }, isFlat);
    if (known.links) visit({ kind: 'content', namespace: node.namespace, key: known.links }, { from: node, label: 'shared upload' }, isFlat);
    if (!isFlat) for (const ref of labelRefs(node.namespace, known.labels)) visit(ref.node, { from: node, label: ref.label });
  }
  return { live, expired };
}

export interface Sweep {
  readonly content: GcNode[];
  /** Children before their parents. */
  readonly snapshots: GcNode[];
  readonly leases: GcNode[];
  readonly ingests: GcNode[];
}

/** Everything that is not live: what a collection deletes. */
export function sweep(inputs: GcInputs, marked: MarkResult): Sweep {
  const content: GcNode[] = [];
  const snapshots: GcNode[] = [];
  const ingests: GcNode[] = [];
  const isDead = (node: GcNode) => !marked.live.has(node);
  for (const ns of inputs.namespaces()) {
    ingests.push(...inputs.ingests(ns).map((i): GcNode => ({ kind: 'ingest', namespace: ns, key: i.ref })).filter(isDead));
    content.push(...inputs.content(ns).map((b): GcNode => ({ kind: 'content', namespace: ns, key: b.digest })).filter(isDead));
    const deadSnapshots = inputs.snapshots(ns).filter((s) => isDead({ kind: 'snapshot', namespace: ns, key: `${s.snapshotter}/${s.key}` }));
    snapshots.push(...childrenFirst(deadSnapshots).map((s): GcNode => ({ kind: 'snapshot', namespace: ns, key: `${s.snapshotter}/${s.key}` })));
  }
  return { content, snapshots, leases: marked.expired, ingests };
}

function childrenFirst(snapshots: readonly GcSnapshot[]): GcSnapshot[] {
  const depth = new Map<string, number>();
  const byKey = new Map(snapshots.map((s) => [`${s.snapshotter}/${s.key}`, s]));
  const depthOf = (s: GcSnapshot): number => {
    const key = `${s.snapshotter}/${s.key}`;
    if (!depth.has(key)) {
      const parent = s.parent ? byKey.get(`${s.snapshotter}/${s.parent}`) : undefined;
      depth.set(key, parent ? depthOf(parent) + 1 : 0);
    }
    return depth.get(key)!;
  };
  return [...snapshots].sort((a, b) => depthOf(b) - depthOf(a));
}
