import { criContainerStream, newEvent, type CriContainerCreated } from '../events/index.js';
import type { CriContainersState, CriContainerView, ProjectionRunner } from '../projections/index.js';
import { alreadyExists, notFound } from '../util/errdefs.js';
import { decideAndAppend, expectedVersion, type CommandContext, type RequestMeta } from './context.js';

/** The CRI container decider: the one writer of CRI container records, names reserved per pod. */
export class CriContainerCommands {
  constructor(
    private readonly ctx: CommandContext,
    private readonly view: ProjectionRunner<CriContainersState>,
  ) {}

  get(namespace: string, id: string): CriContainerView | undefined {
    return this.view.state.live[namespace]?.[id];
  }

  list(namespace: string): CriContainerView[] {
    return Object.values(this.view.state.live[namespace] ?? {});
  }

  byName(namespace: string, podId: string, name: string, attempt: number): CriContainerView | undefined {
    return this.list(namespace).find((c) => c.podId === podId && c.metadata.name === name && c.metadata.attempt === attempt);
  }

  async created(namespace: string, container: CriContainerCreated, meta: RequestMeta): Promise<CriContainerView> {
    await decideAndAppend(this.ctx, () => {
      const holder = this.byName(namespace, container.podId, container.metadata.name, container.metadata.attempt);
      if (holder) throw alreadyExists(`container name "${container.metadata.name}" (attempt ${container.metadata.attempt}) is reserved for ${holder.id}`);
      return { events: [newEvent('CriContainerCreated', namespace, criContainerStream(container.id), container, meta)], expected: [expectedVersion(this.ctx, this.view.state, namespace, criContainerStream(container.id))], result: undefined };
    });
    return this.get(namespace, container.id)!;
  }

  resourcesUpdated(namespace: string, id: string, resources: Record<string, unknown>, meta: RequestMeta): Promise<void> {
    return decideAndAppend(this.ctx, () => {
      if (!this.get(namespace, id)) throw notFound(`container "${id}"`);
      return { events: [newEvent('CriContainerResourcesUpdated', namespace, criContainerStream(id), { id, resources }, meta)], expected: [expectedVersion(this.ctx, this.view.state, namespace, criContainerStream(id))], result: undefined };
    });
  }

  removed(namespace: string, id: string, meta: RequestMeta): Promise<void> {
    return decideAndAppend(this.ctx, () => {
      if (!this.get(namespace, id)) return { events: [], expected: [], result: undefined };
      return { events: [newEvent('CriContainerRemoved', namespace, criContainerStream(id), { id }, meta)], expected: [expectedVersion(this.ctx, this.view.state, namespace, criContainerStream(id))], result: undefined };
    });
  }

  /**
   * Until the projection has folded a fact the task's own events bring (its start, its exit):
   * those are appended as the shim reports them, which may be just after the task call returned.
   */
  async until(namespace: string, id: string, done: (c: CriContainerView) => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await this.ctx.projections.settle();
      const container = this.get(namespace, id);
      if (!container || done(container) || Date.now() > deadline) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}
