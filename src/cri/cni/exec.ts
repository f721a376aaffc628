// The CNI exec protocol (SPEC.md; libcni's invoke package): each plugin of a network's list is
// run as `<bin_dir>/<type>` with the CNI_* environment and its config on stdin; ADD goes in list
// order, each plugin getting the previous one's result as prevResult; DEL in reverse, with the
// cached ADD result (for spec versions 0.4.0 and later).
import { spawn } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { join } from 'node:path';
import type { NetworkConfList, NetworkPluginConf } from './config.js';

export interface CniInvocation {
  readonly binDirs: readonly string[];
  readonly containerId: string;
  /** "" on DEL when the namespace is already gone. */
  readonly netns: string;
  readonly ifname: string;
  /** CNI_ARGS pairs. */
  readonly args: Readonly<Record<string, string>>;
  /** runtimeConfig by capability (portMappings...): given only to plugins that declare it. */
  readonly capabilities: Readonly<Record<string, unknown>>;
}

export class CniError extends Error {}

/** The loopback network containerd adds to every pod (ifname lo). */
export const LOOPBACK_NETWORK: NetworkConfList = { file: '(built in)', name: 'cni-loopback', cniVersion: '0.3.1', plugins: [{ type: 'loopback' }] };

export async function cniAdd(network: NetworkConfList, call: CniInvocation): Promise<unknown> {
  let result: unknown;
  for (const plugin of network.plugins) result = await invoke('ADD', network, plugin, call, result);
  return result;
}

export async function cniDel(network: NetworkConfList, call: CniInvocation, cached: unknown): Promise<void> {
  const prev = versionAtLeast(network.cniVersion, '0.4.0') ? cached : undefined;
  for (const plugin of [...network.plugins].reverse()) await invoke('DEL', network, plugin, call, prev);
}

async function invoke(command: 'ADD' | 'DEL', network: NetworkConfList, plugin: NetworkPluginConf, call: CniInvocation, prevResult: unknown): Promise<unknown> {
  const binary = await findPlugin(plugin.type, call.binDirs);
  const runtimeConfig = Object.fromEntries(
    Object.entries(plugin.capabilities ?? {})
      .filter(([name, on]) => on && call.capabilities[name] !== undefined)
      .map(([name]) => [name, call.capabilities[name]]),
  );
  const conf: Record<string, unknown> = { ...plugin, name: network.name, cniVersion: network.cniVersion };
  if (prevResult !== undefined) conf.prevResult = prevResult;
  if (Object.keys(runtimeConfig).length > 0) conf.runtimeConfig = runtimeConfig;
  const env = {
    ...process.env,
    CNI_COMMAND: command,
    CNI_CONTAINERID: call.containerId,
    CNI_NETNS: call.netns,
    CNI_IFNAME: call.ifname,
    CNI_ARGS: Object.entries(call.args).map(([k, v]) => `${k}=${v}`).join(';'),
    CNI_PATH: call.binDirs.join(':'),
  };
  const { code, stdout, stderr } = await execWithInput(binary, JSON.stringify(conf), env);
  const what = `CNI ${command} of ${plugin.type} (network ${network.name}, ${call.ifname})`;
  if (code !== 0) {
    let message = stderr.trim() || `exit status ${code}`;
    try {
      const failure = JSON.parse(stdout) as { code?: number; msg?: string; details?: string };
      message = [failure.msg, failure.details].filter(Boolean).join(': ') || message;
    } catch {
      /* not JSON: the stderr text */
    }
    throw new CniError(`${what}: ${message}`);
  }
  if (command === 'DEL' || !stdout.trim()) return prevResult;
  try {
    return JSON.parse(stdout);
  } catch {
    throw new CniError(`${what}: the plugin's result is not JSON: ${stdout.slice(0, 200)}`);
  }
}

async function findPlugin(type: string, dirs: readonly string[]): Promise<string> {
  if (!/^[\w.-]+$/.test(type)) throw new CniError(`CNI plugin type "${type}": not a plugin name`);
  for (const dir of dirs) {
    const path = join(dir, type);
    if (await access(path, constants.X_OK).then(() => true, () => false)) return path;
  }
  throw new CniError(`CNI plugin ${type} not found in ${dirs.join(':')}`);
}

function execWithInput(binary: string, input: string, env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.end(input);
  });
}

function versionAtLeast(version: string, floor: string): boolean {
  const parse = (v: string) => v.split('.').map((n) => Number(n) || 0);
  const [a, b] = [parse(version), parse(floor)];
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  return true;
}

/** The pod's addresses on `ifname` from a CNI result (any version from 0.3.0 on): "10.88.0.5", ... */
export function addressesOn(result: unknown, ifname: string): string[] {
  const r = result as { interfaces?: { name?: string; sandbox?: string }[]; ips?: { address?: string; interface?: number }[] } | undefined;
  const interfaces = r?.interfaces ?? [];
  return (r?.ips ?? [])
    .filter((ip) => ip.interface === undefined || interfaces[ip.interface]?.name === ifname)
    .map((ip) => String(ip.address ?? '').split('/')[0]!)
    .filter(Boolean);
}
