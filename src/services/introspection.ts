import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { status as Status } from '@grpc/grpc-js';
import { parseFilters, type Adaptor } from '../filters/index.js';
import { LedgerError } from '../util/errdefs.js';
import { toServiceError } from './grpc-errors.js';
import { unary, type Implementation } from './handlers.js';
import { SERVICES } from '../api/services.js';

export const INTROSPECTION_SERVICE = SERVICES.introspection;

/** A plugin the daemon tried to initialise, as introspection reports it. */
export interface PluginInfo {
  readonly type: string;
  readonly id: string;
  readonly requires: readonly string[];
  readonly platforms: readonly { os: string; architecture: string; variant?: string }[];
  readonly exports: Readonly<Record<string, string>>;
  readonly capabilities: readonly string[];
  readonly initError?: Error;
}

function pluginAdaptor(plugin: PluginInfo): Adaptor {
  return {
    field: ([head, ...rest]) => (rest.length > 0 ? undefined : head === 'type' ? plugin.type : head === 'id' ? plugin.id : undefined),
  };
}

/** init_err as containerd sends it: errdefs-mapped code (else Unknown) and the error's text. */
function initError(err: Error | undefined) {
  if (!err) return null;
  const code = err instanceof LedgerError ? (toServiceError(err).code ?? Status.UNKNOWN) : Status.UNKNOWN;
  return { code, message: err.message, details: [] };
}

/**
 * The server UUID lives in <root>/io.containerd.grpc.v1.introspection/uuid, created on first
 * use (containerd's place for it), written atomically.
 */
export function serverUuid(root: string): string {
  const dir = join(root, 'io.containerd.grpc.v1.introspection');
  const path = join(dir, 'uuid');
  try {
    const uuid = readFileSync(path, 'utf8').trim();
    if (uuid) return uuid;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(dir, { recursive: true, mode: 0o711 });
  const uuid = randomUUID();
  writeFileSync(`${path}.tmp`, uuid, { mode: 0o644 });
  renameSync(`${path}.tmp`, path);
  return uuid;
}

export function introspectionService(plugins: () => readonly PluginInfo[], root: string): Implementation {
  let uuid: string | undefined; // read (or made) at the first call, as it never changes while the daemon runs
  return {
    Plugins: unary((call) => {
      const filter = parseFilters(call.request.filters ?? []);
      return {
        plugins: plugins()
          .filter((plugin) => filter.match(pluginAdaptor(plugin)))
          .map((plugin) => ({
            type: plugin.type,
            id: plugin.id,
            requires: plugin.requires,
            platforms: plugin.platforms.map((p) => ({ os: p.os, architecture: p.architecture, variant: p.variant ?? '' })),
            exports: plugin.exports,
            capabilities: plugin.capabilities,
            init_err: initError(plugin.initError),
          })),
      };
    }),
    Server: unary(() => ({ uuid: (uuid ??= serverUuid(root)) })),
  };
}
