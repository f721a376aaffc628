/**
 * The layer engine: apply a layer blob to a directory, and diff two trees into a layer tar.
 * Storage-level code with no gRPC and no log: services/ and commands/ call it.
 */
export { applyLayer, type ApplyLayerOptions, type ApplyLayerResult } from './apply-layer.js';
export { diffTrees, type DiffTreesOptions } from './diff-trees.js';
export { compressor, type Compression, detectCompression } from './decompress.js';
export { LayerFormatError, type SafetyRule, UnsafeEntryError } from './errors.js';
export type { WhiteoutMode } from './extractor.js';
export * from './media-types.js';
