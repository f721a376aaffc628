// ledgerctl: ledgerd's own client — the log, resumable events, the daemon's version.
import { parseArgs } from 'node:util';
import type { ClientReadableStream, ServiceError } from '@grpc/grpc-js';
import { Connection, DEFAULT_ADDRESS } from './grpc-client.js';
import { LOG_SERVICE } from '../services/log.js';
import { VERSION_SERVICE } from '../services/version.js';
import { GC_SERVICE } from '../services/gc.js';
import { decodeEnvelopeEvent, formatTimestamp } from './format.js';

const USAGE = `usage: ledgerctl [-a ADDRESS] [-n NAMESPACE] COMMAND

commands:
  version                                  the daemon's version
  log show [--from SEQ] [--to SEQ] [--follow] [--filter F]...
                                           one record per line, as JSON
  log head                                 the last sequence number
  log verify                               check every record of the log (checksums, gaps, versions)
  events [--from SEQ] [FILTER...]          containerd events as ctr prints them, each line prefixed
                                           with its sequence number; --from resumes at that number
  gc [--dry-run]                           run a garbage collection now (or list what it would delete)
  why DIGEST | why [--snapshotter S] KEY | why --lease ID | why --ingest REF
                                           what keeps an object alive, or which event deleted it

flags:
  -a, --address PATH     daemon socket (default ${DEFAULT_ADDRESS}, env LEDGERD_ADDRESS)
  -n, --namespace NAME   namespace for namespaced calls (default "default", env LEDGERD_NAMESPACE)

Filters use containerd's syntax, e.g. --filter 'type==NamespaceCreated' or 'topic~="^/namespaces/"'.
`;

function fail(message: string): never {
  process.stderr.write(`ledgerctl: ${message}\n`);
  process.exit(1);
}

const { values, positionals } = (() => {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        address: { type: 'string', short: 'a', default: process.env.LEDGERD_ADDRESS ?? DEFAULT_ADDRESS },
        namespace: { type: 'string', short: 'n', default: process.env.LEDGERD_NAMESPACE ?? 'default' },
        from: { type: 'string' },
        to: { type: 'string' },
        follow: { type: 'boolean', short: 'f' },
        filter: { type: 'string', multiple: true },
        'dry-run': { type: 'boolean' },
        snapshotter: { type: 'string', default: 'overlayfs' },
        lease: { type: 'string' },
        ingest: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    fail(`${(err as Error).message}\n\n${USAGE}`);
  }
})();

const seqOption = (name: 'from' | 'to'): number => {
  const value = values[name];
  if (value === undefined) return 0;
  if (!/^\d+$/.test(value)) fail(`--${name} ${value}: must be a sequence number`);
  return Number(value);
};

const connection = new Connection(values.address!, values.namespace);

/** Prints each message of a stream; resolves when it ends, and ends quietly on Ctrl-C. */
function drain<T>(stream: ClientReadableStream<T>, print: (message: T) => void): Promise<void> {
  process.once('SIGINT', () => {
    stream.cancel();
    process.exit(0);
  });
  return new Promise((resolve, reject) => {
    stream.on('data', print);
    stream.on('end', resolve);
    stream.on('error', reject);
  });
}

async function main(): Promise<void> {
  const [command, sub, ...rest] = positionals;
  switch (`${command ?? ''} ${sub ?? ''}`.trim()) {
    case 'version': {
      const reply = await connection.unary<{ version: string; revision: string }>(VERSION_SERVICE, 'Version', {});
      process.stdout.write(`Server:\n  Version:  ${reply.version}\n  Revision: ${reply.revision}\n`);
      return;
    }
    case 'log head': {
      const reply = await connection.unary<{ seq: number }>(LOG_SERVICE, 'Head', {});
      process.stdout.write(`${reply.seq}\n`);
      return;
    }
    case 'log verify': {
      const reply = await connection.unary<{ ok: boolean; records: number; head: number; problems: string[] }>(LOG_SERVICE, 'Verify', {});
      for (const problem of reply.problems) process.stdout.write(`problem: ${problem}\n`);
      process.stdout.write(`${reply.ok ? 'ok' : 'CORRUPT'}: ${reply.records} records, head ${reply.head}\n`);
      if (!reply.ok) process.exit(1);
      return;
    }
    case 'log show': {
      const stream = connection.stream<Record<string, unknown>>(LOG_SERVICE, 'Read', {
        from_seq: seqOption('from') || 1,
        to_seq: seqOption('to'),
        filters: values.filter ?? [],
        follow: values.follow ?? false,
      });
      await drain(stream, (record) => process.stdout.write(`${JSON.stringify(recordJson(record))}\n`));
      return;
    }
    default:
      if (command === 'gc') return gc();
      if (command === 'why') return why(sub);
      if (command === 'events') {
        const filters = [...(sub === undefined ? [] : [sub]), ...rest];
        await events(filters);
        return;
      }
      fail(command ? `unknown command "${positionals.join(' ')}"\n\n${USAGE}` : USAGE);
  }
}

/** containerd's Subscribe with ledgerd's resume header, printed like `ctr events` plus the seq. */
async function events(filters: string[]): Promise<void> {
  const from = seqOption('from');
  const stream = connection.stream<{ seq: number; envelope: Record<string, any> }>(LOG_SERVICE, 'Subscribe', {
    from_seq: from,
    filters,
  });
  await drain(stream, ({ seq, envelope }) => {
    const body = decodeEnvelopeEvent(envelope.event);
    process.stdout.write(`${seq} ${formatTimestamp(envelope.timestamp)} ${envelope.namespace} ${envelope.topic} ${JSON.stringify(body)}\n`);
  });
}

async function gc(): Promise<void> {
  const reply = await connection.unary<{ seq: number; deleted: { kind: string; namespace: string; key: string }[]; files: string[]; failures: string[]; milliseconds: number }>(
    GC_SERVICE,
    'Collect',
    { dry_run: values['dry-run'] ?? false },
  );
  const verb = values['dry-run'] ? 'would delete' : 'deleted';
  for (const node of reply.deleted) process.stdout.write(`${verb} ${node.kind} ${node.namespace} ${node.key}\n`);
  for (const digest of reply.files) process.stdout.write(`removed blob ${digest}\n`);
  for (const failure of reply.failures) process.stdout.write(`failed ${failure}\n`);
  if (!values['dry-run']) process.stdout.write(`collection at seq ${reply.seq}: ${reply.deleted.length} deleted in ${reply.milliseconds.toFixed(1)} ms\n`);
}

function whyNode(subject: string | undefined): { kind: string; key: string } {
  if (values.lease) return { kind: 'lease', key: values.lease };
  if (values.ingest) return { kind: 'ingest', key: values.ingest };
  if (subject && /^sha(256|384|512):/.test(subject)) return { kind: 'content', key: subject };
  if (subject) return { kind: 'snapshot', key: `${values.snapshotter}/${subject}` };
  return fail(`why needs a digest, a snapshot key, --lease ID or --ingest REF\n\n${USAGE}`);
}

async function why(subject: string | undefined): Promise<void> {
  const node = whyNode(subject);
  const reply = await connection.unary<{ exists: boolean; alive: boolean; chain: string[]; deleted_seq: number; deleted_at: { seconds: number; nanos: number }; deleted_by: string }>(
    GC_SERVICE,
    'Why',
    { node: { ...node, namespace: values.namespace } },
  );
  if (reply.alive) {
    process.stdout.write(`${node.kind} ${node.key} is alive:\n`);
    for (const step of reply.chain) process.stdout.write(`  ${step}\n`);
  } else if (reply.exists) {
    process.stdout.write(`${node.kind} ${node.key} is not referenced: the next collection deletes it\n`);
  } else if (reply.deleted_seq) {
    process.stdout.write(`${node.kind} ${node.key} was deleted at seq ${reply.deleted_seq} (${formatTimestamp(reply.deleted_at)}) by ${reply.deleted_by}\n`);
  } else {
    process.stdout.write(`${node.kind} ${node.key} has never existed in namespace ${values.namespace}\n`);
  }
}

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

main()
  .catch((err: ServiceError) => fail(err.details ?? err.message))
  .finally(() => connection.close());
