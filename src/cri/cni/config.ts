// Network configurations as libcni finds them (libcni/conf.go ConfFiles, LoadConfList; go-cni's
// loadFromConfDir): *.conf, *.conflist and *.json in the conf dir, sorted by name; a .conf is one
// plugin, wrapped into a list of one. The first `max` lists that load are the pod networks.
import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';

export interface NetworkPluginConf {
  readonly type: string;
  readonly capabilities?: Record<string, boolean>;
  readonly [key: string]: unknown;
}

export interface NetworkConfList {
  readonly file: string;
  readonly name: string;
  readonly cniVersion: string;
  readonly plugins: readonly NetworkPluginConf[];
}

const EXTENSIONS = new Set(['.conf', '.conflist', '.json']);

/** The networks in `dir` (at most `max`, 0 = no limit); files that do not parse are skipped and reported. */
export async function loadNetworks(dir: string, max: number): Promise<{ networks: NetworkConfList[]; problems: string[] }> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const networks: NetworkConfList[] = [];
  const problems: string[] = [];
  for (const name of names.filter((n) => EXTENSIONS.has(extname(n))).sort()) {
    if (max > 0 && networks.length >= max) break;
    const file = join(dir, name);
    try {
      networks.push(parseNetwork(file, JSON.parse(await readFile(file, 'utf8'))));
    } catch (err) {
      problems.push(`${file}: ${(err as Error).message}`);
    }
  }
  return { networks, problems };
}

function parseNetwork(file: string, body: Record<string, unknown>): NetworkConfList {
  if (typeof body !== 'object' || body === null) throw new Error('not a JSON object');
  const list = Array.isArray(body.plugins);
  const plugins = (list ? body.plugins : [body]) as NetworkPluginConf[];
  if (plugins.length === 0) throw new Error('no plugins in the list');
  for (const plugin of plugins) if (typeof plugin?.type !== 'string' || !plugin.type) throw new Error('a plugin without a "type"');
  if (typeof body.name !== 'string' || !body.name) throw new Error('no "name"');
  return { file, name: body.name, cniVersion: typeof body.cniVersion === 'string' ? body.cniVersion : '0.1.0', plugins };
}
