import { NAMESPACE_STREAM, newEvent } from '../events/index.js';
import type { NamespacesState, NamespaceView, ProjectionRunner } from '../projections/index.js';
import { alreadyExists, failedPrecondition, invalidArgument, notFound } from '../util/errdefs.js';
import { validateIdentifier } from '../util/identifiers.js';
import { validateLabels, withoutEmptyValues, type Labels } from '../util/labels.js';
import { decideAndAppend, expectedVersion, type CommandContext, type RequestMeta } from './context.js';

/**
 * Reports what a namespace still holds (e.g. "images", "snapshots on \"overlayfs\" snapshotter").
 * Each resource read model registers one; a namespace can be deleted only when all say nothing.
 */
export type NamespaceUsage = (namespace: string) => string[];

/** A command module whose resources live in namespaces (images, content, snapshots, containers...). */
export interface NamespaceHolder {
  namespaceUsage: NamespaceUsage;
}

export const isNamespaceHolder = (value: unknown): value is NamespaceHolder =>
  typeof (value as Partial<NamespaceHolder> | undefined)?.namespaceUsage === 'function';

export class NamespaceCommands {
  private readonly usage: NamespaceUsage[] = [];

  constructor(
    private readonly ctx: CommandContext,
    private readonly view: ProjectionRunner<NamespacesState>,
  ) {}

  registerUsage(usage: NamespaceUsage): void {
    this.usage.push(usage);
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
      const held = this.usage.flatMap((usage) => usage(name));
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
