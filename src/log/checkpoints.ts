import type { Database } from 'lmdb';
import { decodeValue, encodeValue } from './codec.js';

export interface Checkpoint<S = unknown> {
  /** The last sequence number folded into `state`. */
  readonly seq: number;
  readonly state: S;
}

export interface CheckpointStoreOptions {
  /** Checkpoints kept per doubling of age: older ones are thinned, so their spacing grows with age (see `retained`). */
  readonly perDoubling?: number;
}

const SEQ_DIGITS = 16;
const keyOf = (name: string, seq: number) => `${name}@${String(seq).padStart(SEQ_DIGITS, '0')}`;

/**
 * Projection checkpoints: a bounded series per projection, so the state as of a past point can
 * be rebuilt from a checkpoint at or before it instead of from the start of the log. Each is one
 * row keyed "<name>@<seq>" (zero-padded, so the rows of a name sort by seq). A row "<name>"
 * without a seq is the single checkpoint that logs written before the series kept.
 */
export class CheckpointStore {
  private readonly perDoubling: number;

  constructor(
    private readonly db: Database<Buffer, string>,
    options: CheckpointStoreOptions = {},
  ) {
    this.perDoubling = Math.max(1, options.perDoubling ?? 4);
  }

  /** The newest checkpoint of a projection. */
  get<S>(name: string): Checkpoint<S> | undefined {
    const [newest] = this.seqs(name, { reverse: true, limit: 1 });
    if (newest !== undefined) return this.read<S>(keyOf(name, newest));
    return this.read<S>(name);
  }

  /** The checkpoint of a projection at exactly `seq` (one of `series(name)`). */
  at<S>(name: string, seq: number): Checkpoint<S> | undefined {
    const checkpoint = this.read<S>(keyOf(name, seq));
    if (checkpoint) return checkpoint;
    const legacy = this.read<S>(name);
    return legacy?.seq === seq ? legacy : undefined;
  }

  /** Adds a checkpoint to the projection's series and thins the older ones. */
  async put<S>(name: string, checkpoint: Checkpoint<S>): Promise<void> {
    const written = this.db.put(keyOf(name, checkpoint.seq), encodeValue(checkpoint));
    const kept = new Set(retained([checkpoint.seq, ...this.seqs(name, { reverse: true })], this.perDoubling));
    for (const seq of this.seqs(name, { reverse: true })) if (!kept.has(seq)) void this.db.remove(keyOf(name, seq));
    if (this.db.doesExist(name)) void this.db.remove(name);
    await written;
  }

  /** Seqs of a projection's checkpoints, newest first. */
  series(name: string): number[] {
    const seqs = [...this.seqs(name, { reverse: true })];
    const legacy = seqs.length === 0 ? this.read(name) : undefined;
    return legacy ? [legacy.seq] : seqs;
  }

  names(): string[] {
    const names = new Set<string>();
    for (const key of this.db.getKeys()) names.add(key.includes('@') ? key.slice(0, key.lastIndexOf('@')) : key);
    return [...names];
  }

  private read<S>(key: string): Checkpoint<S> | undefined {
    const bytes = this.db.getBinary(key);
    return bytes ? decodeValue<Checkpoint<S>>(bytes) : undefined;
  }

  private *seqs(name: string, options: { reverse: boolean; limit?: number }): Generator<number> {
    const low = `${name}@`;
    const high = `${name}@~`;
    const range = options.reverse
      ? this.db.getKeys({ start: high, end: low, reverse: true, limit: options.limit })
      : this.db.getKeys({ start: low, end: high, limit: options.limit });
    for (const key of range) yield Number(key.slice(low.length));
  }
}

/**
 * Which checkpoints to keep, given their seqs. A checkpoint `age` records older than the newest
 * falls in a bucket of seq values of size B = the power of two at or below age/perDoubling (buckets
 * aligned on multiples of B); it is kept when it is the oldest of its bucket. Buckets only grow
 * with age and nest, so a checkpoint once dropped is never wanted again; about `perDoubling`
 * checkpoints are kept per doubling of age, and a point `a` records in the past has one within
 * about 2a/perDoubling records before it.
 */
export function retained(seqs: readonly number[], perDoubling: number): number[] {
  const sorted = [...new Set(seqs)].sort((a, b) => a - b);
  const newest = sorted[sorted.length - 1];
  if (newest === undefined) return [];
  const kept: number[] = [];
  for (let i = 0; i < sorted.length; i++) {
    const seq = sorted[i]!;
    const bucket = 2 ** Math.floor(Math.log2(Math.max(1, (newest - seq) / perDoubling)));
    const previous = sorted[i - 1];
    if (previous === undefined || Math.floor(previous / bucket) !== Math.floor(seq / bucket)) kept.push(seq);
  }
  return kept.reverse();
}
