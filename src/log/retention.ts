import type { EventLog } from './event-log.js';

/** How much history LMDB keeps; the rest goes to the archive. Unset fields do not limit. */
export interface RetentionPolicy {
  /** Records older than this many milliseconds are archived. */
  readonly ageMs?: number;
  /** Past this many bytes of LMDB pages, the oldest records are archived until it fits. */
  readonly bytes?: number;
}

/** The newest seq the policy moves out of LMDB now (below the oldest stored one when none). */
export function retentionCut(log: EventLog, policy: RetentionPolicy, now: bigint): number {
  const { first, last, bytes } = log.stored();
  let cut = first - 1;
  if (policy.ageMs && policy.ageMs > 0) {
    const limit = now - BigInt(Math.round(policy.ageMs)) * 1_000_000n;
    // record times never go back, so the old records are a prefix: binary search its end
    let low = first;
    let high = last;
    while (low <= high) {
      const middle = Math.floor((low + high) / 2);
      if (log.recordAt(middle).time < limit) {
        cut = Math.max(cut, middle);
        low = middle + 1;
      } else high = middle - 1;
    }
  }
  if (policy.bytes && policy.bytes > 0 && bytes > policy.bytes) {
    const records = last - first + 1;
    cut = Math.max(cut, first - 1 + Math.ceil(records * (1 - policy.bytes / bytes)));
  }
  return cut;
}
