export { ContentStore, type StoredBlob } from './store.js';
export { IngestWriter, type CommitResult } from './writer.js';
export { type IngestStatus } from './ingest.js';
export { Layout } from './layout.js';
export { RefLocks, goDuration, goTime } from './locks.js';
export { CANONICAL, EMPTY_DIGEST, digestProblem, isValidDigest, parseDigest, sha256Hex } from '../util/digest.js';
export { READ_CHUNK } from './reader.js';
