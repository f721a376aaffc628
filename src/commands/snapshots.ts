import { newEvent, snapshotStream } from '../events/index.js';
import { snapshotOf, snapshotsIn, type ProjectionRunner, type SnapshotsState, type SnapshotView } from '../projections/index.js';
import {
  IdTakenError,
  type CreateKind,
  type SnapshotBackend,
  type SnapshotInfo,
  type Snapshotter,
  type SnapshotUsage,
  type WriteOptions,
} from '../snapshots/index.js';
import type { Mount } from '../util/mount/index.js';
import { alreadyExists, failedPrecondition, invalidArgument, LedgerError, notFound } from '../util/errdefs.js';
import { validateLabels, withoutEmptyValues, type Labels } from '../util/labels.js';
import { KeyedMutex } from '../util/mutex.js';
import { decideAndAppend, expectedVersion, insideCollection, type CommandContext, type RequestMeta } from './context.js';

/** Remote-snapshotter dedup label: the snapshot this one is meant to become (metadata/snapshot.go). */
const SNAPSHOT_REF = 'containerd.io/snapshot.ref';

export interface SnapshotHooks {
  /** Whether a lease exists (writes under the containerd-lease header need one). */
  leaseExists?(namespace: string, id: string): boolean;
  /** Problems after the fact (a directory that could not be deleted), for the daemon's log. */
  warn?(message: string): void;
}

/**
 * The Snapshots service's commands: one Snapshotter per loaded backend, all over one read model.
 * What a snapshot is (key, kind, parent, labels, id of its directory) is only in the log; the
 * backends only hold directories.
 *
 * Order of effects and facts:
 *  - Prepare/View: the directory is built first, then SnapshotPrepared is appended. A crash in
 *    between leaves a directory no event owns; cleanup (the reconciler) deletes it.
 *  - Remove: SnapshotRemoved is appended first, then the directory is deleted. Deleting first
 *    would let a crash leave a live snapshot without its files, which nothing can repair;
 *    this order leaves at worst an unowned directory, the same case as above.
 *  - Commit: the layer is measured (usage), then SnapshotCommitted is appended; no directory moves.
 */
export class SnapshotCommands {
  private readonly snapshotters = new Map<string, LedgerSnapshotter>();
  private readonly shared: Shared;

  constructor(ctx: CommandContext, view: ProjectionRunner<SnapshotsState>, backends: readonly SnapshotBackend[], hooks: SnapshotHooks = {}) {
    this.shared = { ctx, view, hooks };
    for (const backend of backends) this.snapshotters.set(backend.name, new LedgerSnapshotter(this.shared, backend));
  }

  /** The snapshotter a request names (services/snapshots/service.go getSnapshotter). */
  get(name: string): Snapshotter {
    if (!name) throw invalidArgument('snapshotter argument missing');
    const snapshotter = this.snapshotters.get(name);
    if (!snapshotter) throw invalidArgument(`snapshotter not loaded: ${name}`);
    return snapshotter;
  }

  names(): string[] {
    return [...this.snapshotters.keys()];
  }

  /** Resolves once the directories of the snapshots removed so far are deleted (see remove). */
  async directoriesDeleted(): Promise<void> {
    await Promise.all([...this.snapshotters.values()].map((snapshotter) => snapshotter.directoriesDeleted()));
  }

  /** After start-up: the directories a crash left without a snapshot, in every snapshotter. */
  async reconcile(): Promise<string[]> {
    const removed: string[] = [];
    for (const name of this.names()) removed.push(...(await this.get(name).cleanup()).map((dir) => `snapshotter ${name}: ${dir}`));
    return removed;
  }
}

interface Shared {
  readonly ctx: CommandContext;
  readonly view: ProjectionRunner<SnapshotsState>;
  readonly hooks: SnapshotHooks;
}

/** How many taken directory ids a prepare skips before giving up. */
const MAX_ID_ATTEMPTS = 1000;

class LedgerSnapshotter implements Snapshotter {
  readonly name: string;
  /** Changes of one namespace's tree run one at a time (see KeyedMutex). */
  private readonly trees = new KeyedMutex();
  /** Ids allocated to creates whose event is not folded in yet: cleanup keeps their directories. */
  private readonly inFlight = new Set<number>();
  /** Directories of removed snapshots being deleted. */
  private readonly deleting = new Set<Promise<void>>();
  private lastId = 0;

  constructor(
    private readonly shared: Shared,
    private readonly backend: SnapshotBackend,
  ) {
    this.name = backend.name;
  }

  async stat(namespace: string, key: string): Promise<SnapshotInfo> {
    return toInfo(this.require(namespace, key));
  }

  async update(namespace: string, info: { name: string; labels?: Labels }, paths: readonly string[], options: WriteOptions = {}): Promise<SnapshotInfo> {
    const name = info.name;
    if (!name) throw invalidArgument('info.Name: snapshot name is required');
    await this.exclusive(namespace, () =>
      decideAndAppend(this.shared.ctx, () => {
        const current = this.require(namespace, name);
        let labels: Labels;
        if (paths.length > 0) {
          labels = { ...current.labels };
          for (const path of paths) {
            if (path.startsWith('labels.')) {
              const key = path.slice('labels.'.length);
              labels[key] = info.labels?.[key] ?? '';
            } else if (path === 'labels') {
              labels = { ...(info.labels ?? {}) };
            } else {
              throw invalidArgument(`cannot update "${path}" field on snapshot "${name}"`);
            }
          }
        } else {
          labels = { ...(info.labels ?? {}) };
        }
        validateLabels(labels, 'info.Labels');
        const payload = { snapshotter: this.name, key: name, labels: withoutEmptyValues(labels) };
        return {
          events: [newEvent('SnapshotLabelsUpdated', namespace, snapshotStream(this.name), payload, options.meta)],
          expected: [expectedVersion(this.shared.ctx, this.shared.view.state, namespace, snapshotStream(this.name))],
          result: undefined,
        };
      }),
    );
    return this.stat(namespace, name);
  }

  async usage(namespace: string, key: string): Promise<SnapshotUsage> {
    const snapshot = this.require(namespace, key);
    switch (snapshot.kind) {
      case 'active':
        return this.backend.usage(snapshot.id);
      case 'committed':
        return { size: snapshot.size, inodes: snapshot.inodes };
      case 'view':
        return { size: 0, inodes: 0 };
    }
  }

  async mounts(namespace: string, key: string): Promise<Mount[]> {
    const snapshot = this.require(namespace, key);
    if (snapshot.kind === 'committed') {
      throw failedPrecondition(`failed to get active mount: requested snapshot ${backendKey(namespace, snapshot)} not active or view`);
    }
    return this.backend.mounts(snapshot.id, snapshot.kind, this.chain(namespace, snapshot.parent));
  }

  prepare(namespace: string, key: string, parent: string, options: WriteOptions = {}): Promise<Mount[]> {
    return this.create(namespace, 'active', key, parent, options);
  }

  view(namespace: string, key: string, parent: string, options: WriteOptions = {}): Promise<Mount[]> {
    return this.create(namespace, 'view', key, parent, options);
  }

  async commit(namespace: string, name: string, key: string, options: WriteOptions = {}): Promise<void> {
    validateLabels(options.labels, 'info.Labels');
    await this.shared.ctx.projections.settle();
    const check = () => {
      if (this.find(namespace, name)) throw alreadyExists(`snapshot "${name}"`);
      this.checkLease(namespace, options.lease);
      const active = this.require(namespace, key);
      if (active.kind !== 'active') throw failedPrecondition(`failed to commit snapshot: snapshot "${backendKey(namespace, active)}" is not active`);
      return active;
    };
    const active = check();
    // the layer's size is a fact of the commit: measured before it is recorded
    const usage = await this.backend.usage(active.id);
    await this.exclusive(namespace, () =>
      decideAndAppend(this.shared.ctx, () => {
        if (check().id !== active.id) throw conflict(`snapshot "${key}" was replaced during commit`);
        const payload = {
          snapshotter: this.name,
          key,
          name,
          id: active.id,
          labels: withoutEmptyValues(options.labels),
          size: usage.size,
          inodes: usage.inodes,
          ...(options.lease ? { lease: options.lease } : {}),
        };
        return {
          events: [newEvent('SnapshotCommitted', namespace, snapshotStream(this.name), payload, options.meta)],
          expected: [expectedVersion(this.shared.ctx, this.shared.view.state, namespace, snapshotStream(this.name))],
          result: undefined,
        };
      }),
    );
  }

  async remove(namespace: string, key: string, options: WriteOptions = {}): Promise<void> {
    const removed = await this.exclusive(
      namespace,
      () =>
        decideAndAppend(
          this.shared.ctx,
          () => {
            const snapshot = this.require(namespace, key);
            if (snapshot.children > 0) throw failedPrecondition('cannot remove snapshot with child');
            const payload = { snapshotter: this.name, key, id: snapshot.id, ...(options.reason ? { reason: options.reason } : {}) };
            return {
              events: [newEvent('SnapshotRemoved', namespace, snapshotStream(this.name), payload, options.meta)],
              expected: [expectedVersion(this.shared.ctx, this.shared.view.state, namespace, snapshotStream(this.name))],
              result: snapshot,
            };
          },
          { meta: options.meta },
        ),
      options.meta,
    );
    // after the answer (~2 ms even for an empty snapshot), as containerd leaves it to its
    // collector, which waits for it (directoriesDeleted); a directory that survives (crash,
    // busy mount) is left to cleanup
    const deletion = this.backend
      .remove(removed.id)
      .catch((err: Error) => {
        this.shared.hooks.warn?.(`snapshotter ${this.name}: removing directory of snapshot ${removed.id} (${key}) failed: ${err.message}`);
      })
      .finally(() => this.deleting.delete(deletion));
    this.deleting.add(deletion);
  }

  async directoriesDeleted(): Promise<void> {
    await Promise.all(this.deleting);
  }

  async list(namespace: string, match: (info: SnapshotInfo) => boolean = () => true): Promise<SnapshotInfo[]> {
    return snapshotsIn(this.shared.view.state, namespace, this.name).map(toInfo).filter(match);
  }

  async cleanup(): Promise<string[]> {
    await this.shared.ctx.projections.settle();
    // asked per directory, right before deleting it: a create that started since is in flight
    return this.backend.cleanup((id) => this.inFlight.has(id) || this.owned(id));
  }

  private async create(namespace: string, kind: CreateKind, key: string, parent: string, options: WriteOptions): Promise<Mount[]> {
    validateLabels(options.labels, 'info.Labels');
    const labels = withoutEmptyValues(options.labels);
    // No settle before this first check: what any client was answered is in the read model
    // already, and the decision below checks again after every append in flight has settled.
    // Settling here too cost each Prepare a second wait for other tasks' commits (p90 59 ms at
    // 4 parallel ctr run, load 15).
    const check = (): number[] => {
      const target = labels[SNAPSHOT_REF];
      if (target && this.find(namespace, target)) throw alreadyExists(`target snapshot "${target}"`);
      if (this.find(namespace, key)) throw alreadyExists(`snapshot "${key}"`);
      const parents = parent ? this.parentChain(namespace, parent) : [];
      this.checkLease(namespace, options.lease);
      return parents;
    };
    const parents = check();
    // the effect first: the directories, under a fresh id
    const id = await this.createDirectories(kind, parents);
    try {
      await this.exclusive(namespace, () =>
        decideAndAppend(this.shared.ctx, () => {
          const now = check();
          if (now.join(',') !== parents.join(',')) throw conflict(`parent snapshot ${parent} changed during ${kind === 'view' ? 'view' : 'prepare'}`);
          const payload = {
            snapshotter: this.name,
            key,
            parent,
            kind,
            id,
            labels,
            ...(options.lease ? { lease: options.lease } : {}),
          };
          return {
            events: [newEvent('SnapshotPrepared', namespace, snapshotStream(this.name), payload, options.meta)],
            expected: [expectedVersion(this.shared.ctx, this.shared.view.state, namespace, snapshotStream(this.name))],
            result: undefined,
          };
        }),
      );
    } catch (err) {
      await this.backend.remove(id).catch(() => {});
      throw err;
    } finally {
      this.inFlight.delete(id);
    }
    return this.backend.mounts(id, kind, parents);
  }

  /** Allocates the next unused id and builds its directories; the id stays in flight until its event is folded in. */
  private async createDirectories(kind: CreateKind, parents: number[]): Promise<number> {
    for (let attempt = 0; attempt < MAX_ID_ATTEMPTS; attempt++) {
      const id = this.allocateId();
      this.inFlight.add(id);
      try {
        await this.backend.create(id, kind, parents);
        return id;
      } catch (err) {
        this.inFlight.delete(id);
        if (!(err instanceof IdTakenError)) throw err;
      }
    }
    throw new Error(`snapshotter ${this.name}: no free directory id after ${MAX_ID_ATTEMPTS} attempts`);
  }

  /** Ids are never reused: above every id the log ever recorded and every id handed out here. */
  private allocateId(): number {
    this.lastId = Math.max(this.lastId, this.shared.view.state.lastIds[this.name] ?? 0) + 1;
    return this.lastId;
  }

  /** Ids of the parent and its ancestors, nearest first; the parent must be committed. */
  private parentChain(namespace: string, parent: string): number[] {
    const snapshot = this.find(namespace, parent);
    if (!snapshot) throw notFound(`parent snapshot ${parent} does not exist`);
    if (snapshot.kind !== 'committed') throw invalidArgument(`failed to create snapshot: parent "${backendKey(namespace, snapshot)}" is not committed snapshot`);
    return this.chain(namespace, parent);
  }

  private chain(namespace: string, parent: string): number[] {
    const ids: number[] = [];
    for (let name = parent; name; ) {
      const snapshot = this.find(namespace, name);
      if (!snapshot) throw notFound(`missing parent "${name}" of snapshot chain`);
      ids.push(snapshot.id);
      name = snapshot.parent;
    }
    return ids;
  }

  private checkLease(namespace: string, lease: string | undefined): void {
    const exists = this.shared.hooks.leaseExists;
    if (lease && exists && !exists(namespace, lease)) throw notFound('lease does not exist');
  }

  private owned(id: number): boolean {
    return this.shared.view.state.owners[this.name]?.[id] !== undefined;
  }

  private find(namespace: string, key: string): SnapshotView | undefined {
    return snapshotOf(this.shared.view.state, namespace, this.name, key);
  }

  private require(namespace: string, key: string): SnapshotView {
    const snapshot = this.find(namespace, key);
    if (!snapshot) throw notFound(`snapshot ${key} does not exist`);
    return snapshot;
  }

  /** Under the namespace's tree mutex, unless `meta` is a collection's (which holds every command off). */
  private exclusive<T>(namespace: string, fn: () => Promise<T>, meta?: RequestMeta): Promise<T> {
    return insideCollection(meta) ? fn() : this.trees.run(namespace, fn);
  }
}

/** The name containerd's backends use in their messages: "<namespace>/<seq>/<key>" (here the id). */
function backendKey(namespace: string, snapshot: SnapshotView): string {
  return `${namespace}/${snapshot.id}/${snapshot.key}`;
}

function conflict(message: string): LedgerError {
  return new LedgerError('conflict', message);
}

function toInfo(snapshot: SnapshotView): SnapshotInfo {
  return {
    name: snapshot.key,
    parent: snapshot.parent,
    kind: snapshot.kind,
    labels: snapshot.labels,
    createdAt: snapshot.createdAt,
    updatedAt: snapshot.updatedAt,
  };
}
