/** Lease aggregate: stream "leases/<id>" in its namespace. Leases publish no containerd topics. */
export const leaseStream = (id: string) => `leases/${id}`;

export interface LeaseResource {
  readonly id: string;
  /** "content", "ingests" or "snapshots/<snapshotter>". */
  readonly type: string;
}

export interface LeaseCreated {
  readonly id: string;
  readonly labels: Record<string, string>;
}

export interface LeaseDeleted {
  readonly id: string;
  /** "gc" when the collector removed an expired lease. */
  readonly reason?: string;
}

export interface LeaseResourceAdded {
  readonly id: string;
  readonly resource: LeaseResource;
}

export interface LeaseResourceRemoved {
  readonly id: string;
  readonly resource: LeaseResource;
}

export interface LeaseEvents {
  LeaseCreated: LeaseCreated;
  LeaseDeleted: LeaseDeleted;
  LeaseResourceAdded: LeaseResourceAdded;
  LeaseResourceRemoved: LeaseResourceRemoved;
}
