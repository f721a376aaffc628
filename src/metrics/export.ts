import { Counter, Gauge, type Registry } from 'prom-client';
import type { ExporterStatus } from '../export/exporter.js';

type Figure = 'lag' | 'acked' | 'inFlight' | 'connected' | 'published' | 'duplicates' | 'failures';

/** The export plugins' figures, read from their status on each scrape, labelled by exporter. */
export function watchExporters(registry: Registry, exporters: readonly { name: string; status(): ExporterStatus }[]): void {
  const gauge = (name: string, help: string, figure: Figure) =>
    new Gauge({
      name,
      help,
      labelNames: ['exporter'],
      registers: [registry],
      collect() {
        for (const exporter of exporters) this.set({ exporter: exporter.name }, Number(exporter.status()[figure]));
      },
    });
  const counter = (name: string, help: string, figure: Figure) =>
    new Counter({
      name,
      help,
      labelNames: ['exporter'],
      registers: [registry],
      collect() {
        this.reset();
        for (const exporter of exporters) this.inc({ exporter: exporter.name }, Number(exporter.status()[figure]));
      },
    });
  gauge('ledgerd_export_lag_records', 'Records in the log not yet acknowledged by the export destination', 'lag');
  gauge('ledgerd_export_acked_seq', 'Every record up to this seq is acknowledged by the export destination', 'acked');
  gauge('ledgerd_export_in_flight', 'Records published and not yet acknowledged', 'inFlight');
  gauge('ledgerd_export_connected', '1 while the exporter is connected and exporting', 'connected');
  counter('ledgerd_export_published_total', 'Records acknowledged by the export destination since start (duplicates included)', 'published');
  counter('ledgerd_export_duplicates_total', 'Acknowledgements that reported a duplicate (a record sent again after a failure)', 'duplicates');
  counter('ledgerd_export_failures_total', 'Failed connections and publishes (each followed by a reconnect)', 'failures');
}
