import { NAMESPACE_STREAM, newEvent } from '../events/index.js';
import {
  blobsIn,
  containersIn,
  contentProjection,
  containersProjection,
  imagesIn,
  imagesProjection,
  namespacesProjection,
  snapshotsProjection,
  type NamespacesState,
  type NamespaceView,
  type ProjectionRunner,
  type ProjectionSet,
} from '../projections/index.js';
import { alreadyExists, failedPrecondition, invalidArgument, notFound } from '../util/errdefs.js';
import { validateIdentifier } from '../util/identifiers.js';
import { validateLabels, withoutEmptyValues, type Labels } from '../util/labels.js';
import { decideAndAppend, expectedVersion, type CommandContext, type RequestMeta } from './context.js';

/** The read models namespace commands decide against: the namespaces, and what lives in them. */
export const namespaceReadModels = (projections: ProjectionSet) =>
  projections.addAll({
    namespaces: namespacesProjection,
    images: imagesProjection,
    content: contentProjection,
    containers: containersProjection,
    snapshots: snapshotsProjection,
  });

export type NamespaceReadModels = ReturnType<typeof namespaceReadModels>;

/**
 * What a namespace still holds, in containerd's words and order (metadata/namespaces.go, listNs):
 * a namespace can be deleted only when this is empty.
 */
export function namespaceUsage(models: NamespaceReadModels, namespace: string): string[] {
  const held: string[] = [];
  if (imagesIn(models.images.state, namespace).length > 0) held.push('images');
  // committed blobs only: an ingest in progress does not hold a namespace
  if (blobsIn(models.content.state, namespace).length > 0) held.push('blobs');
  if (containersIn(models.containers.state, namespace).length > 0) held.push('containers');
  const trees = models.snapshots.state.live[namespace] ?? {};
  for (const snapshotter of Object.keys(trees).sort()) {
    if (Object.keys(trees[snapshotter]!).length > 0) held.push(`snapshots on "${snapshotter}" snapshotter`);
  }
  return held;
}

export class NamespaceCommands {
  private readonly view: ProjectionRunner<NamespacesState>;

  constructor(
    private readonly ctx: CommandContext,
    private readonly models: NamespaceReadModels,
  ) {
    this.view = models.namespaces;
  }

  async create(name: string, labels: Labels | undefined, meta: RequestMeta): Promise<NamespaceView> {
    validateIdentifier(name, 'namespace');
    validateLabels(labels);
    return decideAndAppend(this.ctx, () => {
      if (this.view.state.live[name]) throw alreadyExists(`namespace "${name}"`);
      const payload = { name, labels: withoutEmptyValues(labels) };
      return {
        events: [newEvent('NamespaceCreated', name, NAMESPACE_STREAM, payload, meta)],
        expected: [expectedVersion(this.ctx, this.view.state, name, NAMESPACE_STREAM)],
        result: name,
      };
    }).then((n) => this.get(n));
  }

  /**
   * containerd's rules: with a mask only `labels.<key>` paths are allowed (an absent key deletes
   * it); without one, the request's labels replace all of them. A missing namespace is created.
   */
  async update(name: string, labels: Labels | undefined, paths: readonly string[], meta: RequestMeta): Promise<NamespaceView> {
    validateIdentifier(name, 'namespace');
    validateLabels(labels);
    const requested = labels ?? {};
    for (const path of paths) {
      if (!path.startsWith('labels.')) throw invalidArgument(`cannot update "${path}" field on namespace "${name}": only labels.<key> paths are allowed`);
    }
    return decideAndAppend(this.ctx, () => {
      const current = this.view.state.live[name]?.labels ?? {};
      let next: Labels;
      if (paths.length > 0) {
        next = { ...current };
        for (const path of paths) {
          const key = path.slice('labels.'.length);
          const value = requested[key];
          if (value === undefined || value === '') delete next[key];
          else next[key] = value;
        }
      } else {
        next = withoutEmptyValues(requested);
      }
      return {
        events: [newEvent('NamespaceUpdated', name, NAMESPACE_STREAM, { name, labels: next }, meta)],
        expected: [expectedVersion(this.ctx, this.view.state, name, NAMESPACE_STREAM)],
        result: name,
      };
    }).then((n) => this.get(n));
  }

  async delete(name: string, meta: RequestMeta): Promise<void> {
    validateIdentifier(name, 'namespace');
    await decideAndAppend(this.ctx, () => {
      if (!this.view.state.live[name]) throw notFound(`namespace "${name}"`);
      const held = namespaceUsage(this.models, name);
      if (held.length > 0) throw failedPrecondition(`namespace "${name}" must be empty, but it still has ${held.join(', ')}`);
      return {
        events: [newEvent('NamespaceDeleted', name, NAMESPACE_STREAM, { name }, meta)],
        expected: [expectedVersion(this.ctx, this.view.state, name, NAMESPACE_STREAM)],
        result: undefined,
      };
    });
  }

  /** Never fails: a namespace nobody created reads as one without labels (containerd's Get). */
  get(name: string): NamespaceView {
    return this.view.state.live[name] ?? { name, labels: {}, createdAt: 0n, updatedAt: 0n };
  }

  list(): NamespaceView[] {
    return Object.values(this.view.state.live).sort((a, b) => a.name.localeCompare(b.name));
  }
}
