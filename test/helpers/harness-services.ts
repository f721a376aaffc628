// The shared harness's images, registry and reference containerd, for tests that compare with
// real containerd 1.6 (../shared/harness: make-images.sh, registry.sh, containerd-ref.sh).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';

const HARNESS_DIR = fileURLToPath(new URL('../../../../shared/harness/', import.meta.url));
const script = (name: string) => join(HARNESS_DIR, name);

const has = (command: string) => {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

/** A `skip` value: false when the registry, skopeo, containerd and the harness are all there. */
export const skipWithoutReference: string | false = !existsSync(script('registry.sh'))
  ? 'no ../shared/harness beside the repository'
  : !has('docker-registry') || !has('skopeo')
    ? 'docker-registry and skopeo are not installed (scripts/install.sh --test installs them)'
    : !has('containerd') || !has('ctr')
      ? 'containerd is not installed (scripts/install.sh installs it)'
      : process.getuid?.() !== 0
        ? 'needs root (mounts, containerd)'
        : false;

/**
 * The harness's images (busybox, layered, multiarch), built once per version of make-images.sh
 * and kept in the temporary directory: building `layered` takes ~20 s.
 */
export function harnessImages(): string {
  const version = createHash('sha256').update(readFileSync(script('make-images.sh'))).digest('hex').slice(0, 12);
  const dir = join(tmpdir(), `ledgerd-harness-images-${version}`);
  if (!existsSync(join(dir, 'layered', 'index.json'))) {
    execFileSync('bash', [script('make-images.sh'), dir], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, VERIFY: '0' } });
  }
  return dir;
}

/** A directory for a service's pid file and data: the service is stopped before the directory goes. */
function stoppedThenRemoved(t: TestContext, prefix: string, stop: (dir: string) => void): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => {
    try {
      stop(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  return dir;
}

/**
 * docker-registry on 127.0.0.1 holding the harness's images, on `port` or the next free one
 * (another checkout's tests may hold it); stopped when the test ends. Returns host:port.
 */
export function startRegistry(t: TestContext, port: number): string {
  for (let candidate = port; candidate < port + 50; candidate++) {
    const env = { ...process.env, REGISTRY_PORT: String(candidate) };
    const dir = stoppedThenRemoved(t, 'ledgerd-registry-', (path) => execFileSync('bash', [script('registry.sh'), 'stop', path], { env, stdio: 'ignore' }));
    try {
      execFileSync('bash', [script('registry.sh'), 'start', dir, harnessImages()], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      return `127.0.0.1:${candidate}`;
    } catch (err) {
      if (!/already answers/.test(String((err as { stderr?: Buffer }).stderr ?? ''))) throw err;
    }
  }
  throw new Error(`no free port for a registry in ${port}..${port + 49}`);
}

/** Real containerd 1.6 on its own root, state and socket; stopped (tasks, shims, mounts) when the test ends. */
export function startReferenceContainerd(t: TestContext): string {
  const dir = stoppedThenRemoved(t, 'ledgerd-ctdref-', (path) => execFileSync('bash', [script('containerd-ref.sh'), 'stop', path], { stdio: 'ignore' }));
  return execFileSync('bash', [script('containerd-ref.sh'), 'start', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}
