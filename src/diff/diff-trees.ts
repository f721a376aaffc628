/**
 * diffTrees: the engine behind Diff.Diff (containerd's walking differ, diff/walking +
 * archive.WriteDiff). Returns the OCI layer tar of the changes from `lower` to `upper` as a
 * stream, produced as it is read (nothing staged); the caller compresses it and writes it to the
 * content store.
 *
 * Default: containerd 1.6's double walk of two complete trees (e.g. the two snapshots mounted);
 * deletions become whiteouts, in the walk order containerd emits. With `{ upperdir: true }`,
 * `upper` is an overlayfs upperdir whose lower layers are `lower`: its whiteouts and opaque
 * directories are turned into ".wh." entries and ".wh..wh..opq" markers without walking `lower`.
 */
import { realpathSync } from 'node:fs';
import { Readable } from 'node:stream';
import { fromUtf8 } from './byte-path.js';
import { ChangeWriter } from './change-writer.js';
import { doubleWalkChanges, overlayChanges } from './changes.js';

export interface DiffTreesOptions {
  /** `upper` is an overlay upperdir (whiteouts as 0/0 char devices, opaque xattrs) over `lower`. */
  upperdir?: boolean;
  signal?: AbortSignal;
}

export function diffTrees(lower: string, upper: string, options: DiffTreesOptions = {}): Readable {
  const upperRoot = fromUtf8(realpathSync(upper));
  const changes = options.upperdir ? overlayChanges(upperRoot) : doubleWalkChanges(fromUtf8(realpathSync(lower)), upperRoot);
  return Readable.from(new ChangeWriter(upperRoot).write(changes, options.signal), { objectMode: false });
}
