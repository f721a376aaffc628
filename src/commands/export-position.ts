// An exporter's progress, recorded in the log: the exporter is its one writer, and it only ever
// adds to its stream, so the append asks for no expected version.
import { DAEMON_NAMESPACE, exportStream, newEvent, type ExportPosition } from '../events/index.js';
import type { EventLog } from '../log/index.js';

export async function recordExportPosition(log: EventLog, position: ExportPosition): Promise<number> {
  const { last } = await log.append([newEvent('ExportPosition', DAEMON_NAMESPACE, exportStream(position.exporter), position, { actor: 'export' })]);
  return last;
}
