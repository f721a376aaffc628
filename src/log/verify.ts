import type { EventLog } from './event-log.js';
import { streamKey } from './record.js';

export interface VerifyReport {
  readonly ok: boolean;
  readonly records: number;
  readonly head: number;
  readonly problems: string[];
}

const MAX_PROBLEMS = 100;

/**
 * Reads the whole log: every record must decode and pass its checksum, sequence numbers must be
 * gapless from 1, and each stream's versions must count up by one.
 */
export function verifyLog(log: EventLog): VerifyReport {
  const problems: string[] = [];
  const versions = new Map<string, number>();
  let records = 0;
  let seq = 1;
  const head = log.head;
  while (seq <= head && problems.length < MAX_PROBLEMS) {
    try {
      for (const record of log.read(seq, head)) {
        const key = streamKey(record.namespace, record.stream);
        const previous = versions.get(key) ?? 0;
        if (record.version !== previous + 1) {
          problems.push(`record ${record.seq}: stream ${key} version ${record.version} follows ${previous}`);
        }
        versions.set(key, record.version);
        records++;
        seq = record.seq + 1;
      }
    } catch (err) {
      problems.push((err as Error).message);
      seq = skipPast(log, seq);
    }
  }
  return { ok: problems.length === 0, records, head, problems };
}

/** After a bad record, continue with the next one that exists so one report lists every problem. */
function skipPast(log: EventLog, bad: number): number {
  for (let seq = bad + 1; seq <= log.head; seq++) {
    try {
      log.recordAt(seq);
      return seq;
    } catch {
      // keep looking
    }
  }
  return log.head + 1;
}
