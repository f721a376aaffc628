import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { parse } from 'smol-toml';

/** config.toml, in containerd's version 2 layout. */
export interface DaemonConfig {
  version: number;
  root: string;
  state: string;
  temp: string;
  disabled_plugins: string[];
  required_plugins: string[];
  oom_score: number;
  imports: string[];
  grpc: {
    address: string;
    uid: number;
    gid: number;
    max_recv_message_size: number;
    max_send_message_size: number;
    tcp_address: string;
  };
  debug: { address: string; level: string; format: string };
  metrics: { address: string; grpc_histogram: boolean };
  timeouts: Record<string, string>;
  plugins: Record<string, Record<string, unknown>>;
}

export const DEFAULT_CONFIG_PATH = '/etc/ledgerd/config.toml';

export function defaultConfig(): DaemonConfig {
  return {
    version: 2,
    root: '/var/lib/ledgerd',
    state: '/run/ledgerd',
    temp: '',
    disabled_plugins: [],
    required_plugins: [],
    oom_score: 0,
    imports: [],
    grpc: {
      address: '/run/ledgerd/ledgerd.sock',
      uid: 0,
      gid: 0,
      max_recv_message_size: 16 * 1024 * 1024,
      max_send_message_size: 16 * 1024 * 1024,
      tcp_address: '',
    },
    debug: { address: '', level: 'info', format: '' },
    metrics: { address: '', grpc_histogram: false },
    timeouts: {
      'io.containerd.timeout.bolt.open': '0s',
      'io.containerd.timeout.shim.cleanup': '5s',
      'io.containerd.timeout.shim.load': '5s',
      'io.containerd.timeout.shim.shutdown': '3s',
      'io.containerd.timeout.task.state': '2s',
    },
    plugins: {},
  };
}

export class ConfigError extends Error {
  constructor(file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'ConfigError';
  }
}

type Table = Record<string, unknown>;

/**
 * Loads the config: a missing file at the default path means the embedded defaults; `imports`
 * are merged depth first (scalars override, arrays append, plugin sections replace per key).
 */
export function loadConfig(path: string | undefined): DaemonConfig {
  const file = path ?? DEFAULT_CONFIG_PATH;
  const config = defaultConfig();
  if (!existsSync(file)) {
    if (path !== undefined) throw new ConfigError(file, 'no such file');
    return config;
  }
  const seen = new Set<string>();
  const pending = [resolve(file)];
  while (pending.length > 0) {
    const next = pending.shift()!;
    if (seen.has(next)) continue;
    seen.add(next);
    const table = readTable(next);
    validate(next, table);
    merge(config, table);
    pending.push(...resolveImports(next, (table.imports as string[] | undefined) ?? []));
  }
  config.imports = [...seen].slice(1);
  return config;
}

export interface Overrides {
  root?: string;
  state?: string;
  address?: string;
  logLevel?: string;
}

export function applyOverrides(config: DaemonConfig, overrides: Overrides): DaemonConfig {
  if (overrides.root) config.root = resolve(overrides.root);
  if (overrides.state) config.state = resolve(overrides.state);
  if (overrides.address) config.grpc.address = overrides.address;
  if (overrides.logLevel) config.debug.level = overrides.logLevel;
  if (resolve(config.root) === resolve(config.state)) throw new ConfigError('config', `root and state must differ (both are ${config.root})`);
  return config;
}

function readTable(file: string): Table {
  try {
    return parse(readFileSync(file, 'utf8')) as Table;
  } catch (err) {
    throw new ConfigError(file, (err as Error).message);
  }
}

/** Expected type of every key, by its path; plugin sections are free-form tables. */
const SCHEMA: Record<string, 'string' | 'number' | 'boolean' | 'string[]' | 'table'> = {
  version: 'number',
  root: 'string',
  state: 'string',
  temp: 'string',
  plugin_dir: 'string',
  disabled_plugins: 'string[]',
  required_plugins: 'string[]',
  oom_score: 'number',
  imports: 'string[]',
  grpc: 'table',
  'grpc.address': 'string',
  'grpc.uid': 'number',
  'grpc.gid': 'number',
  'grpc.max_recv_message_size': 'number',
  'grpc.max_send_message_size': 'number',
  'grpc.tcp_address': 'string',
  'grpc.tcp_tls_ca': 'string',
  'grpc.tcp_tls_cert': 'string',
  'grpc.tcp_tls_key': 'string',
  ttrpc: 'table',
  'ttrpc.address': 'string',
  'ttrpc.uid': 'number',
  'ttrpc.gid': 'number',
  debug: 'table',
  'debug.address': 'string',
  'debug.uid': 'number',
  'debug.gid': 'number',
  'debug.level': 'string',
  'debug.format': 'string',
  metrics: 'table',
  'metrics.address': 'string',
  'metrics.grpc_histogram': 'boolean',
  cgroup: 'table',
  'cgroup.path': 'string',
  timeouts: 'table',
  plugins: 'table',
};

function validate(file: string, table: Table): void {
  const version = table.version ?? 1;
  if (version !== 2) {
    throw new ConfigError(file, `version = ${String(version)}: ledgerd reads version 2 config files only (add version = 2; plugin sections are keyed by full URI)`);
  }
  const check = (prefix: string, value: Table) => {
    for (const [key, item] of Object.entries(value)) {
      const path = prefix ? `${prefix}.${key}` : key;
      const expected = SCHEMA[path];
      if (!expected) throw new ConfigError(file, `unknown key "${path}"`);
      if (!hasType(item, expected)) throw new ConfigError(file, `"${path}" must be a ${expected}, not ${JSON.stringify(item)}`);
      if (expected === 'table' && path !== 'plugins' && path !== 'timeouts') check(path, item as Table);
    }
  };
  check('', table);
  const needsUri = (what: string, name: string) => {
    if (name.split('.').length < 4) throw new ConfigError(file, `${what} "${name}": must be a full plugin URI such as io.containerd.grpc.v1.cri`);
  };
  for (const name of (table.disabled_plugins as string[] | undefined) ?? []) needsUri('disabled_plugins entry', name);
  for (const name of (table.required_plugins as string[] | undefined) ?? []) needsUri('required_plugins entry', name);
  for (const [name, section] of Object.entries((table.plugins as Table | undefined) ?? {})) {
    needsUri('plugins section', name);
    if (!hasType(section, 'table')) throw new ConfigError(file, `plugins."${name}" must be a table`);
  }
}

function hasType(value: unknown, expected: string): boolean {
  switch (expected) {
    case 'string[]':
      return Array.isArray(value) && value.every((v) => typeof v === 'string');
    case 'table':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    default:
      return typeof value === expected;
  }
}

function merge(config: DaemonConfig, table: Table): void {
  const target = config as unknown as Table;
  for (const [key, value] of Object.entries(table)) {
    if (key === 'imports' || key === 'version') continue;
    if (key === 'plugins' || key === 'timeouts') {
      Object.assign(target[key] as Table, value); // replaced per plugin / per key
    } else if (Array.isArray(value)) {
      target[key] = [...((target[key] as unknown[]) ?? []), ...value];
    } else if (typeof value === 'object' && value !== null) {
      target[key] = { ...(target[key] as Table), ...(value as Table) };
    } else {
      target[key] = value;
    }
  }
}

/** Import paths relative to the importing file; a `*` in the file name matches like a glob. */
function resolveImports(parent: string, imports: string[]): string[] {
  return imports.flatMap((entry) => {
    const path = isAbsolute(entry) ? entry : join(dirname(parent), entry);
    const name = basename(path);
    if (!name.includes('*')) return [path];
    const pattern = new RegExp(`^${name.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
    const dir = dirname(path);
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((file) => pattern.test(file))
      .sort()
      .map((file) => join(dir, file));
  });
}
