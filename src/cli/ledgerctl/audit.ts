// ledgerctl audit: the fleet's records from the NATS JetStream stream the export plugins publish
// to (io.ledgerd.export.v1.nats), filtered by node, namespace and type through the subject, and by
// any text of the record. It reads the stream, not the daemon.
import { readFileSync } from 'node:fs';
import { subjectToken } from '../../export/message.js';
import { tabulate } from '../format.js';
import { parseCommandArgs, UsageError, type Command } from './command.js';

interface ExportedRecord {
  node: string;
  seq: number;
  time: string;
  namespace: string;
  stream: string;
  type: string;
  meta: { actor?: string; peerUid?: number; peerPid?: number };
}

const who = (meta: ExportedRecord['meta']) => meta.actor ?? (meta.peerUid !== undefined ? `uid=${meta.peerUid},pid=${meta.peerPid}` : '-');

export const audit: Command = {
  usage: `audit --nats URL [--stream S] [--prefix P] [--node N] [--namespace NS] [--type T] [--match TEXT] [--creds FILE] [--json]
                                           the fleet's records from the export's JetStream stream`,
  async run({ args }) {
    const { values } = parseCommandArgs(args, {
      nats: { type: 'string' },
      stream: { type: 'string', default: 'LEDGERD' },
      prefix: { type: 'string', default: 'ledgerd' },
      node: { type: 'string' },
      namespace: { type: 'string' },
      type: { type: 'string' },
      match: { type: 'string' },
      creds: { type: 'string' },
      json: { type: 'boolean' },
    });
    if (!values.nats) throw new UsageError('audit needs --nats URL (the NATS server of the export)');
    const token = (name: string | undefined) => (name === undefined ? '*' : subjectToken(name));
    const subject = `${values.prefix}.${token(values.node)}.${token(values.namespace)}.${token(values.type)}`;
    const { connect, credsAuthenticator } = await import('@nats-io/transport-node');
    const { jetstream } = await import('@nats-io/jetstream');
    const nc = await connect({ servers: values.nats.split(','), ...(values.creds ? { authenticator: credsAuthenticator(readFileSync(values.creds)) } : {}) });
    try {
      const consumer = await jetstream(nc).consumers.get(values.stream, { filter_subjects: subject });
      const rows: string[][] = [['NODE', 'SEQ', 'TIME', 'NAMESPACE', 'TYPE', 'STREAM', 'WHO']];
      if ((await consumer.info()).num_pending > 0) {
        for await (const message of await consumer.consume()) {
          const text = message.string();
          if (!values.match || text.includes(values.match)) {
            if (values.json) process.stdout.write(`${text}\n`);
            else {
              const r = JSON.parse(text) as ExportedRecord;
              rows.push([r.node, String(r.seq), r.time, r.namespace, r.type, r.stream, who(r.meta)]);
            }
          }
          if (message.info.pending === 0) break;
        }
      }
      if (!values.json) process.stdout.write(tabulate(rows));
    } finally {
      await nc.close();
    }
  },
};
