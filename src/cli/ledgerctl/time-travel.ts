import { SERVICES } from '../../api/services.js';
import { timestamp } from '../../api/proto.js';
import { formatTimestamp, tabulate } from '../format.js';
import { parseCommandArgs, UsageError, type Command } from './command.js';

const MODELS = 'images|containers|tasks|snapshots|content|leases|namespaces';

/**
 * A point of the log as the user writes it: a sequence number, or an RFC 3339 time (the last
 * record at or before it), e.g. 2026-12-06T03:10:00Z or 2026-12-06T03:10:00.123456789+01:00.
 */
export function parsePoint(value: string | undefined, flag: string): { seq?: number; time?: ReturnType<typeof timestamp> } | undefined {
  if (value === undefined) return undefined;
  if (/^\d+$/.test(value)) return { seq: Number(value) };
  const match = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(value);
  const ms = match ? Date.parse(`${match[1]}${match[3]}`) : NaN;
  if (!match || Number.isNaN(ms)) throw new UsageError(`--${flag} ${value}: must be a sequence number or an RFC 3339 time`);
  const nanos = BigInt((match[2] ?? '').padEnd(9, '0'));
  return { time: timestamp(BigInt(ms) * 1_000_000n + nanos) };
}

interface StateReply {
  seq: number;
  time: { seconds: number; nanos: number };
  tables: { model: string; columns: string[]; rows: { key: string; cells: string[] }[]; checkpoint_seq: number; folded: number }[];
}

export const state: Command = {
  usage: `state --at SEQ|TIME [${MODELS}]...
                                           the read models as they were right after that point`,
  async run({ connection, args }) {
    const { values, positionals } = parseCommandArgs(args, { at: { type: 'string' } });
    if (values.at === undefined) throw new UsageError('state needs --at SEQ or --at TIME');
    const reply = await connection.unary<StateReply>(SERVICES.log, 'State', { at: parsePoint(values.at, 'at'), models: positionals });
    process.stdout.write(`# as of seq ${reply.seq} (${formatTimestamp(reply.time)})\n`);
    for (const table of reply.tables) {
      if (reply.tables.length > 1) process.stdout.write(`\n${table.model}:\n`);
      process.stdout.write(tabulate([table.columns, ...table.rows.map((row) => row.cells)]));
    }
  },
};

interface DiffReply {
  from_seq: number;
  to_seq: number;
  changes: { model: string; key: string; change: string; fields: string[]; seq: number; type: string; reason: string; meta_json: string }[];
}

export const diff: Command = {
  usage: `diff --from SEQ|TIME [--to SEQ|TIME] [${MODELS}]...
                                           what was created, updated (which fields), deleted (why, by whom)`,
  async run({ connection, args }) {
    const { values, positionals } = parseCommandArgs(args, { from: { type: 'string' }, to: { type: 'string' } });
    if (values.from === undefined) throw new UsageError('diff needs --from SEQ or --from TIME');
    const reply = await connection.unary<DiffReply>(SERVICES.log, 'Diff', {
      from: parsePoint(values.from, 'from'),
      to: parsePoint(values.to, 'to'),
      models: positionals,
    });
    process.stdout.write(`# from seq ${reply.from_seq} to seq ${reply.to_seq}\n`);
    const rows = [['MODEL', 'KEY', 'CHANGE', 'SEQ', 'BY', 'DETAIL']];
    for (const change of reply.changes) {
      const detail = change.change === 'updated' ? change.fields.join(',') : change.reason ? `reason: ${change.reason}` : change.type;
      rows.push([change.model, change.key, change.change, String(change.seq || '-'), actorOf(change.meta_json), detail || '-']);
    }
    process.stdout.write(tabulate(rows));
  },
};

/** Who a record's meta names: the peer's uid and pid, or the daemon part that wrote it. */
export function actorOf(metaJson: string): string {
  const meta = JSON.parse(metaJson || '{}') as { actor?: string; peerUid?: number; peerPid?: number };
  if (meta.actor) return meta.actor;
  if (meta.peerUid !== undefined) return `uid=${meta.peerUid}${meta.peerPid !== undefined ? `,pid=${meta.peerPid}` : ''}`;
  return '-';
}
