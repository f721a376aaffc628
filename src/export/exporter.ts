import type { ExporterStatus } from './nats-exporter.js';

export type { ExporterStatus, ExporterState } from './nats-exporter.js';

/** An export plugin's instance (io.ledgerd.export.v1.*): started once the read models are current. */
export interface LogExporter {
  readonly name: string;
  start(): void;
  status(): ExporterStatus;
  close(): Promise<void>;
}

export const isLogExporter = (value: unknown): value is LogExporter =>
  typeof (value as LogExporter | undefined)?.start === 'function' && typeof (value as LogExporter | undefined)?.status === 'function';

/** The status as Introspection's string exports (what `ledgerctl export status` prints). */
export function statusExports(status: ExporterStatus): Record<string, string> {
  return {
    state: status.state,
    acked_seq: String(status.acked),
    head_seq: String(status.head),
    lag_records: String(status.lag),
    in_flight: String(status.inFlight),
    recorded_seq: String(status.recorded),
    published: String(status.published),
    duplicates: String(status.duplicates),
    failures: String(status.failures),
    server: status.server ?? '',
    last_error: status.lastError ?? '',
  };
}
