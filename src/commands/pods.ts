import { newEvent, podStream, type PodSandboxCreated } from '../events/index.js';
import { podOf, podsIn, type PodsState, type PodView, type ProjectionRunner } from '../projections/index.js';
import { alreadyExists } from '../util/errdefs.js';
import { decideAndAppend, expectedVersion, type CommandContext, type RequestMeta } from './context.js';

/** containerd's reserved sandbox name: <name>_<namespace>_<uid>_<attempt> (pkg/cri/util). */
export const podName = (m: PodSandboxCreated['metadata']) => `${m.name}_${m.namespace}_${m.uid}_${m.attempt}`;

/**
 * The pod sandbox decider: the one writer of pod facts. The CRI performs each effect (network,
 * pause container, task) and then records it here; a name already taken by a live pod refuses
 * the record, and the caller undoes its effects.
 */
export class PodCommands {
  constructor(
    private readonly ctx: CommandContext,
    private readonly view: ProjectionRunner<PodsState>,
  ) {}

  get(namespace: string, id: string): PodView | undefined {
    return podOf(this.view.state, namespace, id);
  }

  list(namespace: string): PodView[] {
    return podsIn(this.view.state, namespace);
  }

  /** The live pod holding a reserved name, if any. */
  byName(namespace: string, name: string): PodView | undefined {
    return this.list(namespace).find((pod) => podName(pod.metadata) === name);
  }

  async created(namespace: string, pod: PodSandboxCreated, meta: RequestMeta): Promise<PodView> {
    await decideAndAppend(this.ctx, () => {
      const holder = this.byName(namespace, podName(pod.metadata));
      if (holder) throw alreadyExists(`pod sandbox name "${podName(pod.metadata)}" is reserved for ${holder.id}`);
      if (this.get(namespace, pod.id)) throw alreadyExists(`pod sandbox "${pod.id}"`);
      return { events: [newEvent('PodSandboxCreated', namespace, podStream(pod.id), pod, meta)], expected: [expectedVersion(this.ctx, this.view.state, namespace, podStream(pod.id))], result: undefined };
    });
    return this.get(namespace, pod.id)!;
  }

  /** Idempotent: a pod already stopped (or gone) records nothing. */
  stopped(namespace: string, id: string, meta: RequestMeta): Promise<void> {
    return decideAndAppend(this.ctx, () => {
      const pod = this.get(namespace, id);
      if (!pod || pod.stopped) return { events: [], expected: [], result: undefined };
      return { events: [newEvent('PodSandboxStopped', namespace, podStream(id), { id }, meta)], expected: [expectedVersion(this.ctx, this.view.state, namespace, podStream(id))], result: undefined };
    });
  }

  removed(namespace: string, id: string, meta: RequestMeta): Promise<void> {
    return decideAndAppend(this.ctx, () => {
      if (!this.get(namespace, id)) return { events: [], expected: [], result: undefined };
      return { events: [newEvent('PodSandboxRemoved', namespace, podStream(id), { id }, meta)], expected: [expectedVersion(this.ctx, this.view.state, namespace, podStream(id))], result: undefined };
    });
  }
}
