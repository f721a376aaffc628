export { EventLog, type LogOptions, type AppendOptions, type AppendResult, type StreamExpectation } from './event-log.js';
export { AppendConflictError, CorruptLogError, LogClosedError, LogWriteError, UnencodableEventError } from './errors.js';
export { CheckpointStore, type Checkpoint } from './checkpoints.js';
export { verifyLog, verifyLogInBackground, type VerifyReport } from './verify.js';
export { streamKey, type LogRecord, type NewEvent, type RecordMeta, type ExpectedVersion, type Upcaster } from './record.js';
export { encodeValue, decodeValue } from './codec.js';
export { nowNs } from './clock.js';
export { retentionCut, type RetentionPolicy } from './retention.js';
export type { Segment } from './archive.js';
