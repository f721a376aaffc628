/**
 * Errors of the layer engine. containerd returns extraction failures as Unknown, so these are plain
 * errors (not errdefs kinds); each names the entry and the rule so an operator can see why a layer
 * was refused.
 */

/** Safety rules an entry can break; see apply-layer.ts for where each is enforced. */
export type SafetyRule =
  | 'absolute-path'
  | 'parent-component'
  | 'nul-byte'
  | 'symlink-escape'
  | 'through-layer-symlink'
  | 'too-many-links'
  | 'hardlink-target'
  | 'invalid-whiteout'
  | 'not-a-directory';

const RULE_TEXT: Record<SafetyRule, string> = {
  'absolute-path': 'absolute paths are not allowed in a layer',
  'parent-component': '".." path components are not allowed in a layer',
  'nul-byte': 'NUL bytes are not allowed in names',
  'symlink-escape': 'a symlink on the path leads outside the root',
  'through-layer-symlink': 'the path goes through a symlink created by this same layer',
  'too-many-links': 'too many levels of symbolic links (more than 255)',
  'hardlink-target': 'hardlink target must be an existing non-directory inside the root',
  'invalid-whiteout': 'invalid whiteout name',
  'not-a-directory': 'a parent path component exists and is not a directory',
};

/** An entry that would write outside the target, or through something it must not. */
export class UnsafeEntryError extends Error {
  override readonly name = 'UnsafeEntryError';
  constructor(
    readonly entry: string,
    readonly rule: SafetyRule,
    detail?: string,
  ) {
    super(`refusing layer entry ${JSON.stringify(entry)}: ${RULE_TEXT[rule]}${detail ? ` (${detail})` : ''}`);
  }
}

/** A layer that is not a tar containerd would accept, or uses a feature the engine does not handle. */
export class LayerFormatError extends Error {
  override readonly name = 'LayerFormatError';
  constructor(
    message: string,
    readonly entry?: string,
  ) {
    super(entry === undefined ? message : `layer entry ${JSON.stringify(entry)}: ${message}`);
  }
}
