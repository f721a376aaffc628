import type { EventLog, LogRecord } from '../log/index.js';
import { seqAtTime, statesAt } from '../projections/index.js';
import { invalidArgument } from '../util/errdefs.js';
import { toJson } from '../util/json.js';
import { unary, type Implementation } from './handlers.js';
import { fromTimestamp, timestamp } from '../api/proto.js';
import { changedFields, tablesNamed, type ModelRow, type ReadModelTable } from './read-model-tables.js';
import { optionalNamespace } from './request.js';

interface WirePoint {
  seq?: number;
  time?: { seconds?: number; nanos?: number } | null;
}

/** A point of the log as a seq: a time resolves to the last record at or before it; nothing is the head. */
export function resolvePoint(log: EventLog, point: WirePoint | null | undefined, field: string): number {
  const time = fromTimestamp(point?.time);
  if (time !== undefined && time !== 0n) return seqAtTime(log, time);
  const seq = Number(point?.seq ?? 0);
  if (seq === 0) return log.head;
  if (seq > log.head) throw invalidArgument(`${field}.seq: ${seq} is after the log's head ${log.head}`);
  return seq;
}

const timeOf = (log: EventLog, seq: number) => (seq > 0 ? log.recordAt(seq).time : 0n);

/** Each table's rows as of `seq`, with where its fold started. */
async function tablesAt(log: EventLog, tables: readonly ReadModelTable[], seq: number, namespace: string) {
  const pasts = await statesAt(log, tables.map((table) => table.projection), seq);
  const time = timeOf(log, seq);
  return tables.map((table, i) => ({ table, past: pasts[i]!, rows: table.rows(pasts[i]!.state, namespace, time) }));
}

/** Log.State and Log.Diff: the read models at any point of the log, and what changed between two. */
export function timeTravelHandlers(log: EventLog): Implementation {
  return {
    State: unary(async (call) => {
      const tables = tablesNamed(call.request.models ?? []);
      const seq = resolvePoint(log, call.request.at, 'at');
      const namespace = optionalNamespace(call) ?? 'default';
      const replies = (await tablesAt(log, tables, seq, namespace)).map(({ table, past, rows }) => ({
        model: table.name,
        columns: table.columns,
        rows: rows.map(({ key, cells }) => ({ key, cells })),
        checkpoint_seq: past.from,
        folded: past.folded,
      }));
      return { seq, time: timestamp(timeOf(log, seq)), tables: replies };
    }),
    Diff: unary(async (call) => {
      const tables = tablesNamed(call.request.models ?? []);
      const from = resolvePoint(log, call.request.from, 'from');
      const to = call.request.to ? resolvePoint(log, call.request.to, 'to') : log.head;
      if (from > to) throw invalidArgument(`from: ${from} is after to ${to}`);
      const namespace = optionalNamespace(call) ?? 'default';
      const touched = await lastTouches(log, tables, from, to, namespace);
      const befores = await tablesAt(log, tables, from, namespace);
      const afters = await tablesAt(log, tables, to, namespace);
      const changes = [];
      for (const [i, table] of tables.entries()) {
        const before = byKey(befores[i]!.rows);
        const after = byKey(afters[i]!.rows);
        const last = touched.get(table)!;
        for (const key of [...new Set([...before.keys(), ...after.keys()])].sort()) {
          const a = before.get(key);
          const b = after.get(key);
          const change = !a ? 'created' : !b ? 'deleted' : 'updated';
          const fields = a && b ? changedFields(a.view, b.view) : [];
          if (change === 'updated' && fields.length === 0) continue;
          const record = last.get(key);
          changes.push({
            model: table.name,
            key,
            change,
            fields,
            seq: record?.seq ?? 0,
            type: record?.type ?? '',
            reason: record ? reasonOf(record) : '',
            meta_json: record ? toJson(record.meta) : '',
          });
        }
      }
      return { from_seq: from, to_seq: to, changes };
    }),
  };
}

const byKey = (rows: readonly ModelRow[]) => new Map(rows.map((row) => [row.key, row]));

const STEP = 16_384;

/** For each model, each object changed in (from, to] and the last record that changed it. */
async function lastTouches(log: EventLog, tables: readonly ReadModelTable[], from: number, to: number, namespace: string) {
  const last = new Map(tables.map((table) => [table, new Map<string, LogRecord>()]));
  for (let next = from + 1; next <= to; next += STEP) {
    if (next > from + 1) await new Promise((resolve) => setImmediate(resolve));
    for (const record of log.read(next, Math.min(to, next + STEP - 1))) {
      for (const [table, touches] of last) for (const key of table.touches(record, namespace)) touches.set(key, record);
    }
  }
  return last;
}

function reasonOf(record: LogRecord): string {
  const payload = record.payload as { reason?: unknown } | undefined;
  const reason = payload?.reason ?? record.meta.reason;
  return typeof reason === 'string' ? reason : '';
}
