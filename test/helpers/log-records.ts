import type { EventRecord } from '../../src/events/index.js';
import type { LogRecord } from '../../src/log/index.js';

/**
 * LogRecords for folding into a reducer directly: seq and version count up from 1, time is
 * seq µs (in ns), so a record's time tells which one set a field.
 */
export function recordMaker(streamOf: (namespace: string, payload: Record<string, unknown>) => string) {
  let seq = 0;
  return (namespace: string, type: string, payload: Record<string, unknown>): LogRecord & EventRecord =>
    ({
    seq: ++seq,
    time: BigInt(seq) * 1000n,
    namespace,
    stream: streamOf(namespace, payload),
    version: seq,
    type,
    schema: 1,
    payload,
    meta: {},
  }) as LogRecord & EventRecord;
}
