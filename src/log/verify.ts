import type { EventLog } from './event-log.js';
import { streamKey } from './record.js';

export interface VerifyReport {
  readonly ok: boolean;
  readonly records: number;
  readonly head: number;
  readonly problems: string[];
}

const MAX_PROBLEMS = 100;
const STEP = 10_000;

/**
 * Reads the whole log: every record must decode and pass its checksum, sequence numbers must be
 * gapless from 1, and each stream's versions must count up by one. Yields after each step of
 * STEP records so an async caller can give the event loop a turn.
 */
function* verifySteps(log: EventLog, head: number): Generator<void, VerifyReport> {
  const problems: string[] = [];
  const versions = new Map<string, number>();
  let records = 0;
  let seq = 1;
  while (seq <= head && problems.length < MAX_PROBLEMS) {
    const to = Math.min(head, seq + STEP - 1);
    try {
      for (const record of log.read(seq, to)) {
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
      seq = skipPast(log, seq, head);
    }
    yield;
  }
  return { ok: problems.length === 0, records, head, problems };
}

export function verifyLog(log: EventLog): VerifyReport {
  const steps = verifySteps(log, log.head);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/** The same check without holding the event loop: for a daemon that is already serving. */
export async function verifyLogInBackground(log: EventLog, signal?: AbortSignal): Promise<VerifyReport | undefined> {
  const steps = verifySteps(log, log.head);
  for (;;) {
    if (signal?.aborted) return undefined;
    const step = steps.next();
    if (step.done) return step.value;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** After a bad record, continue with the next one that exists so one report lists every problem. */
function skipPast(log: EventLog, bad: number, head: number): number {
  for (let seq = bad + 1; seq <= head; seq++) {
    try {
      log.recordAt(seq);
      return seq;
    } catch {
      // keep looking
    }
  }
  return head + 1;
}
