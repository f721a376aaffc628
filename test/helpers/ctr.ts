// Debian's real `ctr` (containerd 1.6) and ../shared/harness/ctr-conformance.sh, for tests against a live daemon.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const hasCtr = (() => {
  try {
    execFileSync('ctr', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** A `skip` option value: false when ctr can run, otherwise the reason. */
export const skipWithoutCtr: string | false = hasCtr ? false : 'ctr is not installed (scripts/install.sh installs it)';

export const HARNESS = fileURLToPath(new URL('../../../../shared/harness/ctr-conformance.sh', import.meta.url));
export const skipWithoutHarness: string | false = skipWithoutCtr || (!existsSync(HARNESS) && 'no ../shared/harness beside the repository');

/** `ctr --address ADDRESS [-n NAMESPACE] ARGS...`, returning stdout; throws with stderr on a non-zero exit. */
export const ctrAt =
  (address: string, namespace?: string) =>
  (...args: string[]): string =>
    execFileSync('ctr', ['--address', address, ...(namespace ? ['-n', namespace] : []), ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 1 << 26,
    });

/**
 * Runs the harness steps whose names match `only` (a regular expression) and returns its whole
 * output and exit code; `env` adds variables (e.g. REGISTRY for the image steps).
 */
export async function runHarness(address: string, only: string, env: Record<string, string> = {}): Promise<{ out: string; code: number | null }> {
  const run = spawn('bash', [HARNESS, address], { env: { ...process.env, ...env, ONLY: only }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  run.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  run.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => run.once('exit', resolve));
  return { out, code };
}
