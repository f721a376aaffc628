// The lease a pull works under (client.WithLease: random id, expiring in 24 h), so that nothing
// it writes is collected before the image record holds it.
import { randomBytes } from 'node:crypto';
import { LEASE_HEADER, SERVICES, withHeaders, type Rpc } from '../rpc.js';

export interface Lease {
  readonly id: string;
  /** The connection with the lease header on every call. */
  readonly rpc: Rpc;
  release(): Promise<void>;
}

const EXPIRE_LABEL = 'containerd.io/gc.expire';

/** leases.WithRandomID: "<nanoseconds of the second>-<base64url of 3 random bytes>". */
const randomLeaseId = () => `${(Date.now() % 1000) * 1_000_000 + Math.floor(Math.random() * 1_000_000)}-${randomBytes(3).toString('base64url')}`;

/** RFC 3339 without fractions, as Go's time.RFC3339 writes it. */
const rfc3339 = (date: Date) => `${date.toISOString().slice(0, 19)}Z`;

export async function takeLease(rpc: Rpc, ttlMs = 24 * 3600_000): Promise<Lease> {
  const id = randomLeaseId();
  await rpc.unary(SERVICES.leases, 'Create', { id, labels: { [EXPIRE_LABEL]: rfc3339(new Date(Date.now() + ttlMs)) } });
  return {
    id,
    rpc: withHeaders(rpc, { [LEASE_HEADER]: id }),
    release: async () => {
      await rpc.unary(SERVICES.leases, 'Delete', { id, sync: false });
    },
  };
}
