/** Go-style durations: "100ms", "1.5s", "5m", "1h30m", "0s". */
export function parseDuration(value: string): number {
  if (value === '0' || value === '') return 0;
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  let rest = value;
  while (rest.length > 0) {
    const match = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/.exec(rest);
    if (!match) throw new Error(`invalid duration "${value}": use forms like 100ms, 2s, 5m, 1h30m`);
    total += Number(match[1]) * units[match[2]!]!;
    rest = rest.slice(match[0].length);
  }
  return total;
}
