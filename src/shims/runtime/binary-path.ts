import { statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { invalidArgument, notFound } from '../../util/errdefs.js';
import { isExecutableFile, pathDirs } from '../shared/look-path.js';

/** containerd-shim-<second-to-last>-<last> of a runtime name with at least two dot-separated parts. */
export function shimBinaryName(runtime: string): string | undefined {
  const parts = runtime.split('.');
  if (parts.length < 2) return undefined;
  return `containerd-shim-${parts[parts.length - 2]}-${parts[parts.length - 1]}`;
}

/** bin/containerd-shim-ledger-v1 of this installation (the checkout the daemon runs from). */
export const OWN_SHIM_BINARY = fileURLToPath(new URL('../../../../bin/containerd-shim-ledger-v1', import.meta.url));

/**
 * The shim binary of a runtime, as containerd's resolveRuntimePath: an absolute path is used as
 * it is (it must exist); otherwise the binary named after the runtime is looked for beside the
 * runtime name's directory part (relative to the working directory), then on $PATH, then beside
 * the daemon's own executable. Results are cached per binary name.
 *
 * ledgerd's own shim is the exception: its name (without a directory part) is the shim of this
 * installation, whatever the one on $PATH is. /usr/local/bin's link is install.sh's, for
 * containerd, and another checkout's install re-points it: a daemon that took it ran its
 * containers on another version's shim, with no warm shims (those are only for its own).
 */
export class ShimBinaryResolver {
  private readonly cache = new Map<string, string>();

  /**
   * `binaries`: ledgerd's runtime name -> shim binary overrides (a binary name looked up like the
   * derived ones, or an absolute path), e.g. io.containerd.runc.v2 -> containerd-shim-ledger-v1.
   */
  constructor(
    private readonly daemonExecutable: string = process.argv[1] ?? process.execPath,
    private readonly binaries: Readonly<Record<string, string>> = {},
    private readonly ownShims: Readonly<Record<string, string>> = { [basename(OWN_SHIM_BINARY)]: OWN_SHIM_BINARY },
  ) {}

  resolve(runtime: string): string {
    if (runtime === '') throw invalidArgument('no runtime name');
    const override = this.binaries[runtime];
    if (override) return isAbsolute(override) ? this.resolve(override) : this.find(runtime, override);
    if (isAbsolute(runtime)) {
      try {
        statSync(runtime);
      } catch (err) {
        throw invalidArgument(`invalid custom binary path: ${(err as Error).message}`);
      }
      return runtime;
    }
    const name = shimBinaryName(runtime);
    if (!name) {
      throw invalidArgument(
        `invalid runtime name ${runtime}, correct runtime name should be either format like \`io.containerd.runc.v1\` or a full path to the binary`,
      );
    }
    return this.find(runtime, name);
  }

  private find(runtime: string, name: string): string {
    const cached = this.cache.get(name);
    if (cached) return cached;
    const own = dirname(runtime) === '.' ? this.ownShims[name] : undefined;
    const candidates = [
      ...(own ? [own] : []),
      resolve(dirname(runtime), name),
      ...pathDirs().map((dir) => resolve(dir, name)),
      join(dirname(this.daemonExecutable), name),
    ];
    const found = candidates.find(isExecutableFile);
    if (!found) throw notFound(`runtime "${runtime}" binary not installed "${name}"`);
    this.cache.set(name, found);
    return found;
  }
}
