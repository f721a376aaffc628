// Pull progress like ctr's: one row per blob (waiting, downloading, done, exists) with a bar, bytes
// and elapsed time, redrawn in place on a terminal; one plain line per change otherwise.
import type { Descriptor } from '../../client/image/descriptor.js';
import type { BlobStatus, PullEvent } from '../../client/pull/events.js';

/** ctr's progress.Bytes: "%02.1f %s" in powers of 1024. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let size = bytes;
  let unit = 0;
  while (size >= 1024 && unit < units.length - 1) {
    size /= 1024;
    unit++;
  }
  return `${size.toFixed(1)} ${units[unit]}`;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

function bar(fraction: number, width = 40): string {
  const filled = Math.max(0, Math.min(width - 2, Math.round(fraction * (width - 2))));
  return `|${'+'.repeat(filled)}${'-'.repeat(width - 2 - filled)}|`;
}

interface Row {
  readonly key: string;
  readonly desc?: Descriptor;
  status: BlobStatus | 'resolving' | 'resolved';
  offset: number;
  started?: number;
  finished?: number;
}

export interface ProgressOutput {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

export class PullProgress {
  private readonly rows = new Map<string, Row>();
  private readonly start = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private drawnLines = 0;

  constructor(private readonly out: ProgressOutput) {
    if (out.isTTY) this.timer = setInterval(() => this.draw(), 100);
  }

  readonly onEvent = (event: PullEvent): void => {
    const now = Date.now();
    switch (event.type) {
      case 'resolving':
      case 'resolved': {
        this.rows.set(event.name, { key: event.name, status: event.type, offset: 0, ...(event.type === 'resolved' ? { desc: event.desc } : {}) });
        if (!this.out.isTTY) this.out.write(event.type === 'resolved' ? `${event.name}: resolved ${event.desc.digest}\n` : `${event.name}: resolving\n`);
        return;
      }
      case 'blob': {
        const row = this.rows.get(event.key) ?? { key: event.key, desc: event.desc, status: event.status, offset: 0 };
        const changed = row.status !== event.status || !this.rows.has(event.key);
        row.offset = event.offset;
        row.status = event.status;
        if (event.status === 'downloading') row.started ??= now;
        if (event.status === 'done' || event.status === 'exists') row.finished ??= now;
        this.rows.set(event.key, row);
        if (!this.out.isTTY && changed) this.out.write(`${this.plainRow(row)}\n`);
        return;
      }
      case 'retry':
        this.println(`${event.key}: connection lost at ${formatBytes(event.offset)}, resuming from there (${event.reason})`);
        return;
      case 'unpack':
        if (event.status === 'start') this.println(`unpacking ${event.platform} ${event.manifest.digest}...`);
        return;
      case 'layer':
        return;
    }
  };

  /** A line printed above the table (or plainly). */
  println(line: string): void {
    if (this.out.isTTY) this.clear();
    this.out.write(`${line}\n`);
    if (this.out.isTTY) this.draw();
  }

  /** Final table and the closing line. */
  finish(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.out.isTTY) this.draw();
    this.out.write(`done: ${seconds(Date.now() - this.start)}\n`);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private plainRow(row: Row): string {
    const total = row.desc?.size ?? 0;
    switch (row.status) {
      case 'downloading':
        return `${row.key}: downloading ${formatBytes(row.offset)}/${formatBytes(total)}`;
      case 'done':
        return `${row.key}: done ${formatBytes(total)} in ${seconds((row.finished ?? Date.now()) - (row.started ?? row.finished ?? Date.now()))}`;
      case 'exists':
        return `${row.key}: exists ${formatBytes(total)}`;
      default:
        return `${row.key}: ${row.status}`;
    }
  }

  private table(): string[] {
    const rows = [...this.rows.values()];
    const keyWidth = Math.max(...rows.map((r) => r.key.length + 1), 0);
    const lines = rows.map((row) => {
      const total = row.desc?.size ?? 0;
      const status = row.status.padEnd(12);
      const key = `${row.key}:`.padEnd(keyWidth);
      if (row.status === 'downloading') {
        const elapsed = row.started ? ` ${seconds(Date.now() - row.started)}` : '';
        return `${key} ${status} ${bar(total > 0 ? row.offset / total : 0)} ${formatBytes(row.offset)}/${formatBytes(total)}${elapsed}`;
      }
      if (row.status === 'waiting' || row.status === 'resolving') return `${key} ${status} ${bar(0)}`;
      const took = row.status === 'done' && row.started && row.finished ? ` ${formatBytes(total)} in ${seconds(row.finished - row.started)}` : '';
      return `${key} ${status} ${bar(1)}${took}`;
    });
    const bytes = rows.reduce((sum, r) => sum + (r.status === 'resolving' || r.status === 'resolved' ? 0 : r.offset), 0);
    const elapsed = (Date.now() - this.start) / 1000;
    lines.push(`elapsed: ${elapsed.toFixed(1)}s  total: ${formatBytes(bytes)}  (${formatBytes(elapsed > 0 ? bytes / elapsed : 0)}/s)`);
    return lines;
  }

  private clear(): void {
    if (this.drawnLines > 0) this.out.write(`\x1b[${this.drawnLines}A\x1b[J`);
    this.drawnLines = 0;
  }

  private draw(): void {
    const lines = this.table();
    this.clear();
    this.out.write(`${lines.join('\n')}\n`);
    this.drawnLines = lines.length;
  }
}
