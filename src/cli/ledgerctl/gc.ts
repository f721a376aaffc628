import { SERVICES } from '../../api/services.js';
import { formatTimestamp } from '../format.js';
import { parseCommandArgs, UsageError, type Command } from './command.js';

export const gc: Command = {
  usage: 'gc [--dry-run]                           run a garbage collection now (or list what it would delete)',
  async run({ connection, args }) {
    const { values } = parseCommandArgs(args, { 'dry-run': { type: 'boolean' } });
    const dryRun = values['dry-run'] ?? false;
    const reply = await connection.unary<{ seq: number; deleted: { kind: string; namespace: string; key: string }[]; files: string[]; failures: string[]; milliseconds: number }>(
      SERVICES.gc,
      'Collect',
      { dry_run: dryRun },
    );
    const verb = dryRun ? 'would delete' : 'deleted';
    for (const node of reply.deleted) process.stdout.write(`${verb} ${node.kind} ${node.namespace} ${node.key}\n`);
    for (const digest of reply.files) process.stdout.write(`removed blob ${digest}\n`);
    for (const failure of reply.failures) process.stdout.write(`failed ${failure}\n`);
    if (!dryRun) process.stdout.write(`collection at seq ${reply.seq}: ${reply.deleted.length} deleted in ${reply.milliseconds.toFixed(1)} ms\n`);
  },
};

export const why: Command = {
  usage: `why DIGEST | why [--snapshotter S] KEY | why --lease ID | why --ingest REF
                                           what keeps an object alive, or which event deleted it`,
  async run({ connection, namespace, args }) {
    const { values, positionals } = parseCommandArgs(args, {
      snapshotter: { type: 'string', default: 'overlayfs' },
      lease: { type: 'string' },
      ingest: { type: 'string' },
    });
    const node = whyNode(positionals[0], values);
    const reply = await connection.unary<{ exists: boolean; alive: boolean; chain: string[]; deleted_seq: number; deleted_at: { seconds: number; nanos: number }; deleted_by: string }>(
      SERVICES.gc,
      'Why',
      { node: { ...node, namespace } },
    );
    const what = `${node.kind} ${node.key}`;
    if (reply.alive) {
      process.stdout.write(`${what} is alive:\n`);
      for (const step of reply.chain) process.stdout.write(`  ${step}\n`);
    } else if (reply.exists) {
      process.stdout.write(`${what} is not referenced: the next collection deletes it\n`);
    } else if (reply.deleted_seq) {
      process.stdout.write(`${what} was deleted at seq ${reply.deleted_seq} (${formatTimestamp(reply.deleted_at)}) by ${reply.deleted_by}\n`);
    } else {
      process.stdout.write(`${what} has never existed in namespace ${namespace}\n`);
    }
  },
};

function whyNode(subject: string | undefined, flags: { snapshotter?: string; lease?: string; ingest?: string }): { kind: string; key: string } {
  if (flags.lease) return { kind: 'lease', key: flags.lease };
  if (flags.ingest) return { kind: 'ingest', key: flags.ingest };
  if (subject && /^sha(256|384|512):/.test(subject)) return { kind: 'content', key: subject };
  if (subject) return { kind: 'snapshot', key: `${flags.snapshotter}/${subject}` };
  throw new UsageError('why needs a digest, a snapshot key, --lease ID or --ingest REF');
}
