// The runc shim's task options (containerd.runc.v1.Options) and the bundle files that keep them
// for the `delete` action: options.json and runtime (runtime/v2/runc/container.go).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decode } from '../wire/protocol/protowire.js';
import { RuncOptions, type RuncOptionsValue } from '../wire/protocol/task.js';

export const DEFAULT_RUNC_ROOT = '/run/containerd/runc';
export const OPTIONS_FILE = 'options.json';
export const RUNTIME_FILE = 'runtime';
/** runc writes the init pid here (exec pids: <exec id>.pid). */
export const INIT_PID_FILE = 'init.pid';

/** Task options: a containerd.runc.v1.Options Any; anything else (or nothing) means defaults. */
export function runcOptions(options: { type_url: string; value: Uint8Array } | undefined): RuncOptionsValue {
  const accepted = options && /(^|\/)containerd\.runc\.v1\.Options$/.test(options.type_url);
  return decode<RuncOptionsValue>(RuncOptions, accepted ? options.value : new Uint8Array(0));
}

/** options.json as containerd writes it (Go's json of options.Options: snake_case, zero values omitted). */
export function optionsJson(options: RuncOptionsValue): string {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) if (value !== '' && value !== 0 && value !== false) out[key] = value;
  return JSON.stringify(out);
}

export function readRuncOptions(bundle: string): RuncOptionsValue {
  const defaults = runcOptions(undefined);
  try {
    return { ...defaults, ...(JSON.parse(readFileSync(join(bundle, OPTIONS_FILE), 'utf8')) as Partial<RuncOptionsValue>) };
  } catch {
    return defaults;
  }
}

export function readRuntimeBinary(bundle: string): string {
  try {
    return readFileSync(join(bundle, RUNTIME_FILE), 'utf8').trim() || 'runc';
  } catch {
    return 'runc';
  }
}
