/**
 * How far an exporter got: the highest seq up to which every record is acknowledged by the
 * export's destination. Recorded by the daemon itself (stream "export/<exporter>" of no namespace)
 * and never exported: an exporter skips these records, so recording progress never makes more.
 */
export const exportStream = (exporter: string): string => `export/${exporter}`;

/** The namespace of records about the daemon rather than about a namespace's resources. */
export const DAEMON_NAMESPACE = '';

export interface ExportPosition {
  /** The export plugin's id, e.g. "nats". */
  readonly exporter: string;
  /** Every record up to this seq is acknowledged (or was one of these records). */
  readonly seq: number;
  /** Where to: e.g. the JetStream stream's name. */
  readonly destination: string;
}

export interface ExportEvents {
  ExportPosition: ExportPosition;
}
