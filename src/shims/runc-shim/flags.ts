// The shim's command line, as containerd's runtime/v2/shim/shim.go parses it with Go's flag
// package: `-name value` or `-name=value` (one or two dashes), booleans without a value, then
// the action (start, delete; none: serve).

export interface ShimFlags {
  namespace: string;
  id: string;
  address: string;
  publishBinary: string;
  socket: string;
  bundle: string;
  debug: boolean;
  version: boolean;
  action: string;
}

const STRING_FLAGS: Record<string, keyof ShimFlags> = {
  namespace: 'namespace',
  id: 'id',
  address: 'address',
  'publish-binary': 'publishBinary',
  socket: 'socket',
  bundle: 'bundle',
};
const BOOL_FLAGS: Record<string, keyof ShimFlags> = { debug: 'debug', v: 'version' };

export class UsageError extends Error {
  override name = 'UsageError';
}

export function parseFlags(argv: readonly string[]): ShimFlags {
  const flags: ShimFlags = { namespace: '', id: '', address: '', publishBinary: 'containerd', socket: '', bundle: '', debug: false, version: false, action: '' };
  const set = flags as unknown as Record<string, string | boolean>;
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      i++;
      break;
    }
    if (!arg.startsWith('-') || arg === '-') break;
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    if (name in BOOL_FLAGS) {
      set[BOOL_FLAGS[name]!] = eq >= 0 ? body.slice(eq + 1) === 'true' || body.slice(eq + 1) === '1' : true;
    } else if (name in STRING_FLAGS) {
      if (eq >= 0) set[STRING_FLAGS[name]!] = body.slice(eq + 1);
      else if (i + 1 < argv.length) set[STRING_FLAGS[name]!] = argv[++i]!;
      else throw new UsageError(`flag needs an argument: -${name}`);
    } else {
      throw new UsageError(`flag provided but not defined: -${name}`);
    }
  }
  flags.action = argv[i] ?? '';
  return flags;
}
