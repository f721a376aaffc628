import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { EventLog } from '../../log/index.js';
import { recordExportPosition } from '../../commands/export-position.js';
import { exportPositionsProjection } from '../../projections/index.js';
import { PluginType, SkipPlugin } from '../../plugin/index.js';
import { statusExports, type LogExporter } from '../../export/exporter.js';
import { checkSubjectPrefix, nodeSubjects } from '../../export/message.js';
import { parseDuration } from '../../util/duration.js';
import { projectionsOf, type AreaPlugins, type DaemonHooks } from './shared.js';

/** [plugins."io.ledgerd.export.v1.nats"]: off while `servers` is empty. */
export interface NatsExportConfig {
  /** NATS server URLs, e.g. ["nats://nats-1:4222", "nats://nats-2:4222"]. */
  servers: string[];
  /** This node's name in subjects and message ids; "" is the host name. */
  node: string;
  stream: string;
  /** Subjects are `<subject_prefix>.<node>.<namespace>.<type>`. */
  subject_prefix: string;
  /** Create the stream (file storage, subjects `<subject_prefix>.>`) when it does not exist. */
  create_stream: boolean;
  /** The duplicate window of a stream the export creates. */
  duplicate_window: string;
  user: string;
  password: string;
  token: string;
  /** A NATS credentials file (JWT and NKey seed), as `nats --creds`. */
  creds_file: string;
  tls_ca_file: string;
  tls_cert_file: string;
  tls_key_file: string;
  /** Records published and not yet acknowledged, at most. */
  max_in_flight: number;
  ack_timeout: string;
  /** How often the acknowledged position is recorded in the log (when it moved). */
  position_interval: string;
  /** First wait before connecting again after a failure; doubles up to 30 s. */
  retry_interval: string;
}

export const DEFAULT_NATS_EXPORT_CONFIG: NatsExportConfig = {
  servers: [],
  node: '',
  stream: 'LEDGERD',
  subject_prefix: 'ledgerd',
  create_stream: true,
  duplicate_window: '2m',
  user: '',
  password: '',
  token: '',
  creds_file: '',
  tls_ca_file: '',
  tls_cert_file: '',
  tls_key_file: '',
  max_in_flight: 256,
  ack_timeout: '5s',
  position_interval: '5s',
  retry_interval: '1s',
};

/** A server URL as Introspection may show it: without a user and password written into it. */
const withoutCredentials = (url: string) => url.replace(/\/\/[^/@]*@/, '//');

const setting = (key: string) => `plugins."io.ledgerd.export.v1.nats".${key}`;

function durationMs(config: NatsExportConfig, key: 'duplicate_window' | 'ack_timeout' | 'position_interval' | 'retry_interval'): number {
  let ms: number;
  try {
    ms = parseDuration(config[key]);
  } catch (err) {
    throw new Error(`${setting(key)}: ${(err as Error).message}`);
  }
  if (!(ms > 0)) throw new Error(`${setting(key)}: must be longer than 0`);
  return ms;
}

/**
 * The log exported to NATS JetStream (io.ledgerd.export.v1.nats), off unless configured. The
 * client is loaded only then, so a daemon without it pays nothing.
 */
export const exportPlugins = (hooks: DaemonHooks): AreaPlugins => ({
  services: [
    {
      type: PluginType.Export,
      id: 'nats',
      requires: [PluginType.Log, PluginType.Projection],
      config: structuredClone(DEFAULT_NATS_EXPORT_CONFIG),
      async init(ctx) {
        const config = ctx.config as NatsExportConfig;
        if (config.servers.length === 0) throw new SkipPlugin('no servers configured');
        const prefix = checkSubjectPrefix(config.subject_prefix);
        if (!/^[A-Za-z0-9_-]+$/.test(config.stream)) throw new Error(`${setting('stream')} "${config.stream}": a JetStream stream name is letters, digits, '_' and '-'`);
        if (!Number.isSafeInteger(config.max_in_flight) || config.max_in_flight < 1) throw new Error(`${setting('max_in_flight')}: must be a whole number of at least 1`);
        const node = config.node || hostname();
        const log = ctx.get<EventLog>(PluginType.Log);
        const positions = projectionsOf(ctx).add(exportPositionsProjection);
        const { NatsExporter } = await import('../../export/nats-exporter.js');
        const { credsAuthenticator } = await import('@nats-io/transport-node');
        const exporter = new NatsExporter(
          log,
          {
            recorded: () => positions.state.positions.nats?.seq ?? 0,
            record: async (seq) => void (await recordExportPosition(log, { exporter: 'nats', seq, destination: config.stream })),
          },
          {
            connection: {
              servers: config.servers,
              name: `ledgerd ${node}`,
              ...(config.user ? { user: config.user, pass: config.password } : {}),
              ...(config.token ? { token: config.token } : {}),
              ...(config.creds_file ? { authenticator: credsAuthenticator(readFileSync(config.creds_file)) } : {}),
              ...(config.tls_ca_file || config.tls_cert_file
                ? { tls: { caFile: config.tls_ca_file || undefined, certFile: config.tls_cert_file || undefined, keyFile: config.tls_key_file || undefined } }
                : {}),
            },
            node,
            stream: config.stream,
            subjectPrefix: prefix,
            createStream: config.create_stream,
            duplicateWindowMs: durationMs(config, 'duplicate_window'),
            maxInFlight: config.max_in_flight,
            ackTimeoutMs: durationMs(config, 'ack_timeout'),
            positionIntervalMs: durationMs(config, 'position_interval'),
            retryMs: durationMs(config, 'retry_interval'),
            positionType: 'ExportPosition',
            warn: hooks.warn,
          },
        );
        Object.assign(ctx.meta.exports, { node, stream: config.stream, subjects: nodeSubjects(prefix, node), servers: config.servers.map(withoutCredentials).join(',') });
        // the live figures are read when Introspection asks
        for (const key of Object.keys(statusExports(exporter.status()))) {
          Object.defineProperty(ctx.meta.exports, key, { enumerable: true, get: () => statusExports(exporter.status())[key] });
        }
        const instance: LogExporter = { name: 'nats', start: () => exporter.start(), status: () => exporter.status(), close: () => exporter.close() };
        return instance;
      },
    },
  ],
});
