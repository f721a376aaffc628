import { containerStream, newEvent, type AnyValue, type ContainerRecord } from '../events/index.js';
import { containerOf, containersIn, type ContainersState, type ContainerView, type ProjectionRunner } from '../projections/index.js';
import { alreadyExists, invalidArgument, isKind, notFound, StatusError } from '../util/errdefs.js';
import { Code } from '../util/grpc-codes.js';
import { validateIdentifier } from '../util/identifiers.js';
import { validateLabels, withoutEmptyValues } from '../util/labels.js';
import { decideAndAppend, expectedVersion, OWN_STREAM, type CommandContext, type RequestMeta } from './context.js';

/** A container as a request carries it: any field may be missing. */
export interface ContainerInput {
  readonly id?: string;
  readonly labels?: Record<string, string>;
  readonly image?: string;
  readonly runtime?: { readonly name?: string; readonly options?: AnyValue };
  readonly spec?: AnyValue;
  readonly snapshotter?: string;
  readonly snapshotKey?: string;
  readonly extensions?: Record<string, AnyValue>;
}

/** containerd's validateContainer (metadata/containers.go), with its messages. */
function validContainer(input: ContainerInput): ContainerRecord {
  try {
    validateIdentifier(input.id ?? '');
  } catch (err) {
    throw invalidArgument(`container.ID: ${(err as Error).message}`);
  }
  for (const key of Object.keys(input.extensions ?? {})) {
    if (key === '') throw invalidArgument('container.Extension keys must not be zero-length');
  }
  validateLabels(input.labels, 'containers.Labels');
  if (!input.runtime?.name) throw invalidArgument('container.Runtime.Name must be set');
  if (!input.spec) throw invalidArgument('container.Spec must be set');
  if (input.snapshotKey && !input.snapshotter) throw invalidArgument('container.Snapshotter must be set if container.SnapshotKey is set');
  return {
    id: input.id!,
    labels: withoutEmptyValues(input.labels),
    image: input.image ?? '',
    runtime: { name: input.runtime.name, ...(input.runtime.options ? { options: input.runtime.options } : {}) },
    spec: input.spec,
    snapshotter: input.snapshotter ?? '',
    snapshotKey: input.snapshotKey ?? '',
    extensions: { ...(input.extensions ?? {}) },
  };
}

/** Re-throws a validation error with containerd's prefix for the operation. */
function validatedFor<T>(operation: string, validate: () => T): T {
  try {
    return validate();
  } catch (err) {
    if (isKind(err, 'invalid argument')) throw invalidArgument(`${operation}: ${err.message}`);
    throw err;
  }
}


/** Fields a full replace (no mask) may change; snapshotter and runtime name are immutable. */
const REPLACEABLE = ['labels', 'spec', 'extensions', 'image', 'snapshotkey'];

/** A container of the read model, or NotFound as containerd's store: `container "<id>" in namespace "<ns>": not found`. */
export function existingContainer(state: ContainersState, namespace: string, id: string): ContainerView {
  const container = containerOf(state, namespace, id);
  if (!container) throw notFound(`container "${id}" in namespace "${namespace}"`);
  return container;
}

export class ContainerCommands {

  constructor(
    private readonly ctx: CommandContext,
    private readonly view: ProjectionRunner<ContainersState>,
  ) {}

  async create(namespace: string, input: ContainerInput, meta: RequestMeta): Promise<ContainerView> {
    const container = validatedFor('create container failed validation', () => validContainer(input));
    await decideAndAppend(this.ctx, () => {
      if (this.find(namespace, container.id)) throw alreadyExists(`container "${container.id}"`);
      return {
        events: [newEvent('ContainerCreated', namespace, containerStream(container.id), container, meta)],
        expected: [expectedVersion(this.ctx, this.view.state, namespace, containerStream(container.id))],
        result: undefined,
      };
    }, OWN_STREAM);
    return this.find(namespace, container.id)!;
  }

  /** containerd's field-mask rules (metadata/containers.go Update). */
  async update(namespace: string, input: ContainerInput, paths: readonly string[], meta: RequestMeta): Promise<ContainerView> {
    const id = input.id ?? '';
    // the service's own check, sent without a class suffix (services/containers/local.go)
    if (!id) throw new StatusError(Code.InvalidArgument, 'Container.ID required');
    await decideAndAppend(this.ctx, () => {
      const current = this.find(namespace, id);
      if (!current) {
        throw notFound(this.hasBucket(namespace) ? `container "${id}"` : `cannot update container "${id}" in namespace "${namespace}"`);
      }
      let mask = paths;
      if (mask.length === 0) {
        mask = REPLACEABLE;
        if (current.snapshotter !== (input.snapshotter ?? '')) throw invalidArgument('container.Snapshotter field is immutable');
        if (current.runtime.name !== (input.runtime?.name ?? '')) throw invalidArgument('container.Runtime.Name field is immutable');
      }
      const next = { ...current, labels: { ...current.labels }, extensions: { ...current.extensions } };
      for (const path of mask) {
        if (path.startsWith('labels.')) {
          const key = path.slice('labels.'.length);
          const value = input.labels?.[key];
          if (value) next.labels[key] = value;
          else delete next.labels[key];
        } else if (path.startsWith('extensions.')) {
          const key = path.slice('extensions.'.length);
          const value = input.extensions?.[key];
          if (value) next.extensions[key] = value;
          else delete next.extensions[key];
        } else if (path === 'labels') next.labels = { ...(input.labels ?? {}) };
        else if (path === 'spec') next.spec = input.spec!;
        else if (path === 'extensions') next.extensions = { ...(input.extensions ?? {}) };
        else if (path === 'image') next.image = input.image ?? '';
        else if (path === 'snapshotkey') next.snapshotKey = input.snapshotKey ?? '';
        else throw invalidArgument(`cannot update "${path}" field on "${id}"`);
      }
      const container = validatedFor('update failed validation', () => validContainer(next));
      return {
        events: [newEvent('ContainerUpdated', namespace, containerStream(id), container, meta)],
        expected: [expectedVersion(this.ctx, this.view.state, namespace, containerStream(id))],
        result: undefined,
      };
    }, OWN_STREAM);
    return this.find(namespace, id)!;
  }

  async delete(namespace: string, id: string, meta: RequestMeta): Promise<void> {
    await decideAndAppend(this.ctx, () => {
      if (!this.find(namespace, id)) {
        throw notFound(this.hasBucket(namespace) ? `container ${id}` : `cannot delete container "${id}" in namespace "${namespace}"`);
      }
      return {
        events: [newEvent('ContainerDeleted', namespace, containerStream(id), { id }, meta)],
        expected: [expectedVersion(this.ctx, this.view.state, namespace, containerStream(id))],
        result: undefined,
      };
    }, OWN_STREAM);
  }

  /** NotFound as containerd's store: `container "<id>" in namespace "<ns>": not found`. */
  get(namespace: string, id: string): ContainerView {
    return existingContainer(this.view.state, namespace, id);
  }

  find(namespace: string, id: string): ContainerView | undefined {
    return containerOf(this.view.state, namespace, id);
  }

  list(namespace: string): ContainerView[] {
    return containersIn(this.view.state, namespace);
  }

  /** containerd's messages differ once the namespace has had a container (its bucket exists). */
  private hasBucket(namespace: string): boolean {
    return this.view.state.buckets[namespace] === true;
  }
}
