import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parse } from 'smol-toml';
import { LedgerError } from '../util/errdefs.js';

/** config.toml, in containerd's version 2 layout (services/server/config/config.go). */
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
  /** `address`: the debug socket (profiles), off when empty; owned by uid:gid, mode 0660. */
  debug: { address: string; uid: number; gid: number; level: string; format: string };
  metrics: { address: string; grpc_histogram: boolean };
  timeouts: Record<string, string>;
  /** Plugin sections by URI, as parsed; each plugin merges its own over its defaults. */
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
    debug: { address: '', uid: 0, gid: 0, level: 'info', format: '' },
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

/** A bad config file or setting; `file` is the file it came from ("config" for flags). */
export class ConfigError extends LedgerError {
  constructor(file: string, message: string) {
    super('invalid argument', `${file}: ${message}`);
    this.name = 'ConfigError';
  }
}

export interface LoadOptions {
  /** A missing file means the built-in defaults. Default: only when no path was given. */
  allowMissing?: boolean;
}

type Table = Record<string, unknown>;

/**
 * Loads a config file and its imports. As containerd, files are merged in the order they are
 * reached (the file, then its imports, then theirs): scalars override, arrays append, and the
 * `plugins` and `timeouts` tables are replaced key by key. `imports` lists every file loaded.
 */
export function loadConfig(path: string | undefined, options: LoadOptions = {}): DaemonConfig {
  const file = resolve(path ?? DEFAULT_CONFIG_PATH);
  const config = defaultConfig();
  if (!existsSync(file)) {
    if (!(options.allowMissing ?? path === undefined)) throw new ConfigError(file, 'no such file');
    return config;
  }
  const loaded: string[] = [];
  const pending: { path: string; importer?: string }[] = [{ path: file }];
  while (pending.length > 0) {
    const { path: next, importer } = pending.shift()!;
    if (loaded.includes(next)) continue;
    const table = readTable(next, importer);
    validateFile(next, table, importer === undefined);
    merge(config, table);
    loaded.push(next);
    const imports = resolveImports(next, (table.imports as string[] | undefined) ?? []);
    pending.push(...imports.map((path) => ({ path, importer: next })));
  }
  config.imports = loaded;
  checkPaths(config, file);
  return config;
}

export interface Overrides {
  root?: string;
  state?: string;
  address?: string;
  logLevel?: string;
}

/** CLI flags over the file: --root, --state, --address, --log-level. */
export function applyOverrides(config: DaemonConfig, overrides: Overrides): DaemonConfig {
  if (overrides.root) config.root = resolve(overrides.root);
  if (overrides.state) config.state = resolve(overrides.state);
  if (overrides.address) config.grpc.address = overrides.address;
  if (overrides.logLevel) config.debug.level = overrides.logLevel;
  checkPaths(config, 'config');
  return config;
}

function checkPaths(config: DaemonConfig, file: string): void {
  if (!config.root) throw new ConfigError(file, 'root must be specified');
  if (!config.state) throw new ConfigError(file, 'state must be specified');
  if (!config.grpc.address) throw new ConfigError(file, 'grpc address cannot be empty');
  if (resolve(config.root) === resolve(config.state)) {
    throw new ConfigError(file, `root and state must be different paths (both are ${config.root})`);
  }
}

function readTable(file: string, importer: string | undefined): Table {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new ConfigError(file, importer ? `${reason} (imported by ${importer})` : reason);
  }
  try {
    return parse(text) as Table;
  } catch (err) {
    throw new ConfigError(file, `invalid TOML: ${(err as Error).message}`);
  }
}

type Kind = 'string' | 'integer' | 'boolean' | 'string[]' | 'durations' | 'plugins' | 'tables' | { [key: string]: Kind };

/** The keys ledgerd reads and their types; anything else in a file is an error. */
const SCHEMA: { [key: string]: Kind } = {
  version: 'integer',
  root: 'string',
  state: 'string',
  temp: 'string',
  disabled_plugins: 'string[]',
  required_plugins: 'string[]',
  oom_score: 'integer',
  imports: 'string[]',
  grpc: {
    address: 'string',
    uid: 'integer',
    gid: 'integer',
    max_recv_message_size: 'integer',
    max_send_message_size: 'integer',
    tcp_address: 'string',
  },
  debug: { address: 'string', uid: 'integer', gid: 'integer', level: 'string', format: 'string' },
  metrics: { address: 'string', grpc_histogram: 'boolean' },
  timeouts: 'durations',
  plugins: 'plugins',
};

/**
 * containerd 1.6 settings that ledgerd reads (a containerd config.toml starts ledgerd as it is)
 * but does not act on; `ignoredSettings` names the ones a config sets, for one start-up warning.
 */
const CONTAINERD_ONLY: { [key: string]: Kind } = {
  plugin_dir: 'string',
  ttrpc: { address: 'string', uid: 'integer', gid: 'integer' },
  cgroup: { path: 'string' },
  proxy_plugins: 'tables',
  stream_processors: 'tables',
  grpc: { tcp_tls_ca: 'string', tcp_tls_cert: 'string', tcp_tls_key: 'string' },
};

/** The containerd-only settings present in a loaded config, as dotted key paths. */
export function ignoredSettings(config: DaemonConfig): string[] {
  const present = config as unknown as Table;
  return Object.entries(CONTAINERD_ONLY).flatMap(([key, kind]) => {
    if (present[key] === undefined) return [];
    if (typeof kind !== 'object') return [key];
    return Object.keys(kind).filter((sub) => (present[key] as Table)[sub] !== undefined).map((sub) => `${key}.${sub}`);
  });
}

/** The schema ledgerd checks a file against: its own keys and containerd's, merged. */
const FILE_SCHEMA: { [key: string]: Kind } = (() => {
  const schema: { [key: string]: Kind } = { ...SCHEMA };
  for (const [key, kind] of Object.entries(CONTAINERD_ONLY)) {
    const own = schema[key];
    schema[key] = typeof own === 'object' && typeof kind === 'object' ? { ...own, ...kind } : kind;
  }
  return schema;
})();

const URI_RULE = 'must be a full plugin URI (<type>.<id>, at least 4 dot-separated parts, as io.containerd.gc.v1.scheduler)';

function validateFile(file: string, table: Table, main: boolean): void {
  const fail = (message: string): never => {
    throw new ConfigError(file, message);
  };
  const check = (schema: { [key: string]: Kind }, value: Table, prefix: string) => {
    for (const [key, item] of Object.entries(value)) {
      const path = prefix + key;
      const kind = schema[key];
      if (kind === undefined) {
        fail(`unknown key "${path}": neither ledgerd nor containerd 1.6 has it`);
      } else if (typeof kind === 'object') {
        if (!isTable(item)) fail(`"${path}" must be a table, got ${describe(item)}`);
        check(kind, item as Table, `${path}.`);
      } else if (!hasKind(item, kind)) {
        fail(`"${path}" must be ${KIND_NAMES[kind]}, got ${describe(item)}`);
      }
    }
  };
  check(FILE_SCHEMA, table, '');
  if (table.version === undefined) {
    // An imported file may leave the version to the file that imports it (as in containerd).
    if (main) fail('no version: ledgerd reads version 2 config files only; add `version = 2` (plugin sections are keyed by full URI)');
  } else if (table.version !== 2) {
    fail(`version = ${JSON.stringify(table.version)}: ledgerd reads version 2 config files only (plugin sections are keyed by full URI)`);
  }
  for (const key of ['disabled_plugins', 'required_plugins'] as const) {
    for (const name of (table[key] as string[] | undefined) ?? []) {
      if (!isUri(name)) fail(`${key} entry "${name}": ${URI_RULE}`);
    }
  }
  for (const [name, section] of Object.entries((table.plugins as Table | undefined) ?? {})) {
    if (!isUri(name)) fail(`plugins section "${name}": ${URI_RULE}, quoted: [plugins."io.containerd.gc.v1.scheduler"]`);
    if (!isTable(section)) fail(`plugins."${name}" must be a table, got ${describe(section)}`);
  }
  for (const [name, value] of Object.entries((table.timeouts as Table | undefined) ?? {})) {
    if (!GO_DURATION.test(value as string)) fail(`timeouts."${name}" = ${JSON.stringify(value)}: must be a duration such as "5s", "100ms" or "1m30s"`);
  }
}

const KIND_NAMES: Record<Exclude<Kind, object>, string> = {
  string: 'a string',
  integer: 'an integer',
  boolean: 'a boolean',
  'string[]': 'an array of strings',
  durations: 'a table of durations',
  plugins: 'a table of plugin sections',
  tables: 'a table of tables',
};

/** Go's time.ParseDuration syntax, which containerd uses for timeouts. */
const GO_DURATION = /^[-+]?(0|((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+)$/;

const isUri = (name: string) => name.split('.').length >= 4;

const isTable = (value: unknown): value is Table =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);

function hasKind(value: unknown, kind: Exclude<Kind, object>): boolean {
  switch (kind) {
    case 'integer':
      return Number.isInteger(value);
    case 'string[]':
      return Array.isArray(value) && value.every((v) => typeof v === 'string');
    case 'durations':
      return isTable(value) && Object.values(value).every((v) => typeof v === 'string');
    case 'plugins':
      return isTable(value);
    case 'tables':
      return isTable(value) && Object.values(value).every(isTable);
    default:
      return typeof value === kind;
  }
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return `an array ${JSON.stringify(value)}`;
  if (value instanceof Date) return `a date ${value.toISOString()}`;
  if (isTable(value)) return 'a table';
  if (typeof value === 'number') return `${Number.isInteger(value) ? 'an integer' : 'a float'} ${value}`;
  return `a ${typeof value} ${JSON.stringify(value)}`;
}

/** containerd's mergo merge with override and slice append, plus per-key replacement of maps. */
function merge(config: DaemonConfig, table: Table): void {
  const target = config as unknown as Table;
  for (const [key, value] of Object.entries(table)) {
    if (key === 'imports' || key === 'version') continue;
    if (key === 'plugins' || key === 'timeouts') {
      Object.assign(target[key] as Table, value); // whole sections replaced, per plugin / per key
    } else if (Array.isArray(value)) {
      target[key] = [...(target[key] as unknown[]), ...value];
    } else if (isTable(value)) {
      target[key] = { ...(target[key] as Table), ...value };
    } else {
      target[key] = value;
    }
  }
}

/**
 * Import paths are relative to the importing file. A path with `*` is a glob (`*`, `?` and
 * `[...]` within one path element, as Go's filepath.Match) and may match nothing; containerd
 * resolves relative globs against its working directory, ledgerd against the importing file.
 */
function resolveImports(parent: string, imports: string[]): string[] {
  return imports.flatMap((entry) => {
    const path = isAbsolute(entry) ? resolve(entry) : join(dirname(parent), entry);
    return entry.includes('*') ? glob(path, parent) : [path];
  });
}

function glob(pattern: string, parent: string): string[] {
  let paths = ['/'];
  for (const part of pattern.split('/').filter(Boolean)) {
    if (!/[*?[]/.test(part)) {
      paths = paths.map((dir) => join(dir, part));
      continue;
    }
    const matcher = globElement(part, parent);
    paths = paths.flatMap((dir) => listDir(dir).filter((name) => matcher.test(name)).sort().map((name) => join(dir, name)));
  }
  return paths.filter((path) => existsSync(path) && statSync(path).isFile());
}

function globElement(element: string, parent: string): RegExp {
  let source = '';
  for (let i = 0; i < element.length; i++) {
    const c = element[i]!;
    if (c === '*') source += '.*';
    else if (c === '?') source += '.';
    else if (c === '[') {
      const end = element.indexOf(']', i + 1);
      let body = element.slice(i + 1, end);
      const negate = body.startsWith('^');
      if (negate) body = body.slice(1);
      if (end < 0 || body === '') throw new ConfigError(parent, `imports: bad pattern "${element}"`);
      source += `[${negate ? '^' : ''}${body.replace(/[\\[\]^]/g, '\\$&')}]`;
      i = end;
    } else source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
