import { randomBytes } from 'node:crypto';
import { leaseStream, newEvent, type LeaseResource } from '../events/index.js';
import { leaseOf, leasesIn, resourceKey, type LeasesState, type LeaseView, type ProjectionRunner } from '../projections/index.js';
import { alreadyExists, invalidArgument, notFound, notImplemented } from '../util/errdefs.js';
import { validateDigest } from '../util/digest.js';
import { decideAndAppend, expectedVersion, OWN_STREAM, reasonOf, type CommandContext, type RequestMeta } from './context.js';
import { NO_COLLECTOR, type GcTrigger } from './gc-trigger.js';

/** containerd's generated lease id: nanoseconds of the current second, then 3 random bytes (leases/id.go). */
function generateLeaseId(): string {
  const nanos = Number(process.hrtime.bigint() % 1_000_000_000n);
  return `${nanos}-${randomBytes(3).toString('base64url')}`;
}

/** The resource types containerd 1.6 leases accept (metadata/leases.go). */
export function validateResource(resource: LeaseResource | undefined): LeaseResource {
  if (!resource?.type) throw invalidArgument('resource.type: must be set');
  const parts = resource.type.split('/');
  switch (parts[0]) {
    case 'content':
      if (parts.length !== 1) break;
      validateDigest(resource.id, 'resource.id');
      return resource;
    case 'ingests':
      if (parts.length !== 1) break;
      if (!resource.id) throw invalidArgument('resource.id: must be set');
      return resource;
    case 'snapshots':
      if (parts.length !== 2 || !parts[1]) throw invalidArgument(`resource type "${resource.type}": must be snapshots/<snapshotter>`);
      if (!resource.id) throw invalidArgument('resource.id: must be set');
      return resource;
  }
  throw notImplemented(`resource type ${resource.type} not supported yet`);
}

export class LeaseCommands {
  constructor(
    private readonly ctx: CommandContext,
    private readonly view: ProjectionRunner<LeasesState>,
    /** Serves `sync` deletions: they wait for the next collection. */
    private readonly gc: GcTrigger = NO_COLLECTOR,
  ) {}

  create(namespace: string, id: string, labels: Record<string, string> | undefined, meta: RequestMeta): Promise<LeaseView> {
    const leaseId = id || generateLeaseId();
    return decideAndAppend(this.ctx, () => {
      if (this.get(namespace, leaseId)) throw alreadyExists(`lease "${leaseId}"`);
      return {
        events: [newEvent('LeaseCreated', namespace, leaseStream(leaseId), { id: leaseId, labels: labels ?? {} }, meta)],
        expected: [expectedVersion(this.ctx, this.view.state, namespace, leaseStream(leaseId))],
        result: undefined,
      };
    }, OWN_STREAM).then(() => this.get(namespace, leaseId)!);
  }

  async delete(namespace: string, id: string, sync: boolean, meta: RequestMeta): Promise<void> {
    await decideAndAppend(this.ctx, () => {
      if (!this.get(namespace, id)) throw notFound(`lease "${id}"`);
      return {
        events: [newEvent('LeaseDeleted', namespace, leaseStream(id), { id, ...reasonOf(meta) }, meta)],
        expected: [expectedVersion(this.ctx, this.view.state, namespace, leaseStream(id))],
        result: undefined,
      };
    }, { ...OWN_STREAM, meta });
    if (sync) await this.gc.scheduleAndWait();
  }

  async addResource(namespace: string, id: string, resource: LeaseResource | undefined, meta: RequestMeta): Promise<void> {
    const valid = validateResource(resource);
    await decideAndAppend(this.ctx, () => {
      const lease = this.get(namespace, id);
      if (!lease) throw notFound(`lease "${id}"`);
      if (lease.resources[resourceKey(valid)]) return { events: [], expected: [], result: undefined };
      return {
        events: [newEvent('LeaseResourceAdded', namespace, leaseStream(id), { id, resource: { id: valid.id, type: valid.type } }, meta)],
        expected: [expectedVersion(this.ctx, this.view.state, namespace, leaseStream(id))],
        result: undefined,
      };
    });
  }

  async deleteResource(namespace: string, id: string, resource: LeaseResource | undefined, meta: RequestMeta): Promise<void> {
    const valid = validateResource(resource);
    await decideAndAppend(this.ctx, () => {
      const lease = this.get(namespace, id);
      if (!lease) throw notFound(`lease "${id}"`);
      if (!lease.resources[resourceKey(valid)]) return { events: [], expected: [], result: undefined };
      return {
        events: [newEvent('LeaseResourceRemoved', namespace, leaseStream(id), { id, resource: { id: valid.id, type: valid.type } }, meta)],
        expected: [expectedVersion(this.ctx, this.view.state, namespace, leaseStream(id))],
        result: undefined,
      };
    });
  }

  get(namespace: string, id: string): LeaseView | undefined {
    return leaseOf(this.view.state, namespace, id);
  }

  list(namespace: string): LeaseView[] {
    return leasesIn(this.view.state, namespace);
  }

  /** Whether a lease exists: what writes under the containerd-lease header check. */
  exists(namespace: string, id: string): boolean {
    return this.get(namespace, id) !== undefined;
  }

}
