/**
 * Wall-clock time in nanoseconds: anchored once on performance.timeOrigin (the wall clock at
 * start-up to the microsecond; Date.now() would truncate to the millisecond), advanced by the
 * monotonic clock.
 */
const anchor = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6)) - process.hrtime.bigint();

export function nowNs(): bigint {
  return anchor + process.hrtime.bigint();
}
