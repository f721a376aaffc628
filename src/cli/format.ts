import { unpackAny, fromTimestamp } from '../api/proto.js';

/** RFC 3339 with nanoseconds, UTC; "-" for an unset time. */
export function formatTimestamp(ts: { seconds?: number; nanos?: number } | undefined): string {
  const ns = fromTimestamp(ts);
  if (ns === undefined) return '-';
  const iso = new Date(Number(ns / 1_000_000n)).toISOString();
  return `${iso.slice(0, 19)}.${String(ns % 1_000_000_000n).padStart(9, '0')}Z`;
}

/** An event payload as JSON-able data; unknown types show their type URL and size. */
export function decodeEnvelopeEvent(any: { type_url?: string; value?: Uint8Array } | undefined): unknown {
  const body = unpackAny(any);
  if (body) return body;
  return { type_url: any?.type_url ?? '', bytes: any?.value?.length ?? 0 };
}

/** Go's text/tabwriter as ctr configures it (minwidth 1, padding 1): every cell padded to its column. */
export function tabulate(rows: readonly string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => `${row.map((cell, i) => cell.padEnd(widths[i]! + 1)).join('')}\n`).join('');
}
