import type { Database } from 'lmdb';
import { decodeValue, encodeValue } from './codec.js';

export interface Checkpoint<S = unknown> {
  /** The last sequence number folded into `state`. */
  readonly seq: number;
  readonly state: S;
}

/** Projection checkpoints: one row per projection name, overwritten in place. */
export class CheckpointStore {
  constructor(private readonly db: Database<Buffer, string>) {}

  get<S>(name: string): Checkpoint<S> | undefined {
    const bytes = this.db.getBinary(name);
    return bytes ? decodeValue<Checkpoint<S>>(bytes) : undefined;
  }

  async put<S>(name: string, checkpoint: Checkpoint<S>): Promise<void> {
    await this.db.put(name, encodeValue(checkpoint));
  }

  names(): string[] {
    return [...this.db.getKeys()];
  }
}
