// ledgerctl export status: where each export plugin stands, from Introspection (its exports).
import { SERVICES } from '../../api/services.js';
import { tabulate } from '../format.js';
import { parseCommandArgs, UsageError, type Command } from './command.js';

const EXPORT_TYPE = 'io.ledgerd.export.v1';

interface PluginReply {
  id: string;
  exports: Record<string, string>;
  init_err?: { message?: string } | null;
}

function describe(plugin: PluginReply): string {
  if (plugin.init_err?.message) {
    const skipped = plugin.init_err.message.endsWith('skip plugin');
    return `export ${plugin.id}: ${skipped ? 'off' : 'failed'} (${plugin.init_err.message.replace(/: skip plugin$/, '')})\n`;
  }
  const e = plugin.exports;
  const rows = [
    ['state', e.state ?? ''],
    ['server', e.server || '-'],
    ['stream', `${e.stream} (subjects ${e.subjects})`],
    ['acked', `${e.acked_seq} of ${e.head_seq} (lag ${e.lag_records}, in flight ${e.in_flight})`],
    ['recorded', `${e.recorded_seq} (the last ExportPosition in the log)`],
    ['published', `${e.published} (duplicates ${e.duplicates}, failures ${e.failures})`],
  ];
  if (e.last_error) rows.push(['last error', e.last_error]);
  return `export ${plugin.id}:\n${tabulate(rows.map(([k, v]) => [`  ${k}`, v!]))}`;
}

export const exportCommand: Command = {
  usage: 'export status [--json]                   where each export (NATS JetStream) stands: acknowledged seq, lag, errors',
  async run({ connection, args }) {
    const { values, positionals } = parseCommandArgs(args, { json: { type: 'boolean' } });
    if (positionals[0] !== 'status' || positionals.length > 1) throw new UsageError('export takes one subcommand: status');
    const reply = await connection.unary<{ plugins: PluginReply[] }>(SERVICES.introspection, 'Plugins', { filters: [`type==${EXPORT_TYPE}`] });
    if (values.json) {
      for (const plugin of reply.plugins) process.stdout.write(`${JSON.stringify({ id: plugin.id, ...plugin.exports, error: plugin.init_err?.message || undefined })}\n`);
      return;
    }
    if (reply.plugins.length === 0) {
      process.stdout.write('no export plugins in this daemon\n');
      return;
    }
    process.stdout.write(reply.plugins.map(describe).join('\n'));
  },
};
