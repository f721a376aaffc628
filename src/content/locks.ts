import { unavailable } from '../util/errdefs.js';

/**
 * The process-wide lock on backend refs (content/local/locks.go): one writer per ref at a time.
 * A held ref is retried 10 times with random sleeps of up to 2^n ms, then Unavailable
 * "ref <ref> locked for <duration> (since <time>)", as containerd says it.
 */
export class RefLocks {
  private readonly held = new Map<string, bigint>();

  constructor(private readonly now: () => bigint = () => BigInt(Date.now()) * 1_000_000n) {}

  tryLock(ref: string): boolean {
    if (this.held.has(ref)) return false;
    this.held.set(ref, this.now());
    return true;
  }

  async lock(ref: string, attempts = 10): Promise<void> {
    for (let n = 0; n < attempts; n++) {
      if (this.tryLock(ref)) return;
      await sleep(Math.floor(Math.random() * (1 << n)));
    }
    const since = this.held.get(ref);
    if (since === undefined && this.tryLock(ref)) return;
    const now = this.now();
    throw unavailable(`ref ${ref} locked for ${goDuration(now - (since ?? now))} (since ${goTime(since ?? now)})`);
  }

  unlock(ref: string): void {
    this.held.delete(ref);
  }

  isLocked(ref: string): boolean {
    return this.held.has(ref);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Go's time.Duration.String for non-negative durations: "450.123ms", "1.5s", "2m3.4s". */
export function goDuration(ns: bigint): string {
  if (ns === 0n) return '0s';
  const trim = (value: bigint, unit: bigint, digits: number) => {
    const whole = value / unit;
    const fraction = (value % unit).toString().padStart(digits, '0').replace(/0+$/, '');
    return fraction ? `${whole}.${fraction}` : `${whole}`;
  };
  if (ns < 1_000n) return `${ns}ns`;
  if (ns < 1_000_000n) return `${trim(ns, 1_000n, 3)}µs`;
  if (ns < 1_000_000_000n) return `${trim(ns, 1_000_000n, 6)}ms`;
  const hours = ns / 3_600_000_000_000n;
  const minutes = (ns / 60_000_000_000n) % 60n;
  const seconds = `${trim(ns % 60_000_000_000n, 1_000_000_000n, 9)}s`;
  if (hours > 0n) return `${hours}h${minutes}m${seconds}`;
  if (minutes > 0n) return `${minutes}m${seconds}`;
  return seconds;
}

/** Go's time.Time.String in UTC: "2006-01-02 15:04:05.999999999 +0000 UTC". */
export function goTime(ns: bigint): string {
  const iso = new Date(Number(ns / 1_000_000n)).toISOString();
  const fraction = (ns % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${fraction ? `.${fraction}` : ''} +0000 UTC`;
}
