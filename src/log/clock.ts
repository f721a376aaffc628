/** Wall-clock time in nanoseconds: Date.now() anchored once, advanced by the monotonic clock. */
const anchor = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

export function nowNs(): bigint {
  return anchor + process.hrtime.bigint();
}
