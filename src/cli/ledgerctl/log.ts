import { SERVICES } from '../../api/services.js';
import { decodeEnvelopeEvent, formatTimestamp } from '../format.js';
import { drain, parseCommandArgs, sequenceNumber, UsageError, type Command } from './command.js';

export const version: Command = {
  usage: "version                                  the daemon's version",
  async run({ connection }) {
    const reply = await connection.unary<{ version: string; revision: string }>(SERVICES.version, 'Version', {});
    process.stdout.write(`Server:\n  Version:  ${reply.version}\n  Revision: ${reply.revision}\n`);
  },
};

export const log: Command = {
  usage: `log show [--from SEQ] [--to SEQ] [--follow] [--filter F]... [--actor uid=N|gid=N|pid=N|NAME] [--trace ID]
                                           one record per line, as JSON; --actor: records of that caller
                                           (SO_PEERCRED) or of that part of the daemon (gc, shim, reconciler);
                                           --trace: records written in that OpenTelemetry trace (meta.traceId)
  log head                                 the last sequence number
  log verify                               check every record of the log (checksums, gaps, versions)`,
  async run({ connection, args }) {
    const { values, positionals } = parseCommandArgs(args, {
      from: { type: 'string' },
      to: { type: 'string' },
      follow: { type: 'boolean', short: 'f' },
      filter: { type: 'string', multiple: true },
      actor: { type: 'string' },
      trace: { type: 'string' },
    });
    switch (positionals[0]) {
      case 'head': {
        const reply = await connection.unary<{ seq: number }>(SERVICES.log, 'Head', {});
        process.stdout.write(`${reply.seq}\n`);
        return;
      }
      case 'verify': {
        const reply = await connection.unary<{ ok: boolean; records: number; head: number; problems: string[] }>(SERVICES.log, 'Verify', {});
        for (const problem of reply.problems) process.stdout.write(`problem: ${problem}\n`);
        process.stdout.write(`${reply.ok ? 'ok' : 'CORRUPT'}: ${reply.records} records, head ${reply.head}\n`);
        if (!reply.ok) process.exitCode = 1;
        return;
      }
      case 'show': {
        const stream = connection.stream<Record<string, unknown>>(SERVICES.log, 'Read', {
          from_seq: sequenceNumber(values.from, 'from') || 1,
          to_seq: sequenceNumber(values.to, 'to'),
          filters: withTrace(withActor(values.filter ?? [], values.actor), values.trace),
          follow: values.follow ?? false,
        });
        await drain(stream, (record) => process.stdout.write(`${JSON.stringify(recordJson(record))}\n`));
        return;
      }
      default:
        throw new UsageError(`unknown log command "${positionals[0] ?? ''}"`);
    }
  },
};

/** containerd's Subscribe with ledgerd's resume header, printed like `ctr events` plus the seq. */
export const events: Command = {
  usage: `events [--from SEQ] [FILTER...]          containerd events as ctr prints them, each line prefixed
                                           with its sequence number; --from resumes at that number`,
  async run({ connection, args }) {
    const { values, positionals } = parseCommandArgs(args, { from: { type: 'string' } });
    const stream = connection.stream<{ seq: number; envelope: { timestamp: { seconds: number; nanos: number }; namespace: string; topic: string; event: { type_url: string; value: Buffer } } }>(
      SERVICES.log,
      'Subscribe',
      { from_seq: sequenceNumber(values.from, 'from'), filters: positionals },
    );
    await drain(stream, ({ seq, envelope }) => {
      const body = decodeEnvelopeEvent(envelope.event);
      process.stdout.write(`${seq} ${formatTimestamp(envelope.timestamp)} ${envelope.namespace} ${envelope.topic} ${JSON.stringify(body)}\n`);
    });
  },
};

function recordJson(record: Record<string, unknown>) {
  return {
    seq: record.seq,
    time: formatTimestamp(record.time as { seconds: number; nanos: number }),
    namespace: record.namespace,
    stream: record.stream,
    version: record.version,
    type: record.type,
    ...(record.topic ? { topic: record.topic } : {}),
    payload: JSON.parse(String(record.payload_json || 'null')),
    meta: JSON.parse(String(record.meta_json || '{}')),
  };
}

const ACTOR_FIELDS: Record<string, string> = { uid: 'meta.peerUid', gid: 'meta.peerGid', pid: 'meta.peerPid' };

/** --actor as one more condition of every filter. */
function withActor(filters: readonly string[], actor: string | undefined): string[] {
  if (actor === undefined) return [...filters];
  const match = /^(uid|gid|pid)=(\d+)$/.exec(actor);
  if (!match && !/^[a-z][a-z-]*$/.test(actor)) throw new UsageError(`--actor ${actor}: must be uid=N, gid=N, pid=N or a daemon part (gc, shim, reconciler, daemon)`);
  return withCondition(filters, match ? `${ACTOR_FIELDS[match[1]!]}==${match[2]}` : `meta.actor==${actor}`);
}

/** --trace as one more condition of every filter: the records appended in that trace. */
function withTrace(filters: readonly string[], traceId: string | undefined): string[] {
  if (traceId === undefined) return [...filters];
  if (!/^[0-9a-f]{32}$/.test(traceId)) throw new UsageError(`--trace ${traceId}: must be a trace id, 32 lowercase hex digits`);
  return withCondition(filters, `meta.traceId==${traceId}`);
}

/** `condition` added to every filter (filters in a list are alternatives, commas join conditions). */
const withCondition = (filters: readonly string[], condition: string): string[] => (filters.length === 0 ? [condition] : filters.map((filter) => `${filter},${condition}`));
