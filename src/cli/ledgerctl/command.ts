import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { ClientReadableStream } from '@grpc/grpc-js';
import type { Connection } from '../grpc-client.js';

/** What every ledgerctl command gets: the connection (with -n's namespace) and its own arguments. */
export interface CommandContext {
  readonly connection: Connection;
  readonly namespace: string;
  readonly args: readonly string[];
}

export interface Command {
  /** One line per form, shown in the usage. */
  readonly usage: string;
  run(ctx: CommandContext): Promise<void>;
}

export class UsageError extends Error {}

/** A command's own flags and positionals (strict: an unknown flag is a usage error). */
export function parseCommandArgs<O extends NonNullable<ParseArgsConfig['options']>>(args: readonly string[], options: O) {
  try {
    return parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export function sequenceNumber(value: string | undefined, flag: string): number {
  if (value === undefined) return 0;
  if (!/^\d+$/.test(value)) throw new UsageError(`--${flag} ${value}: must be a sequence number`);
  return Number(value);
}

/** Prints each message of a stream; resolves when it ends, and ends quietly on Ctrl-C. */
export function drain<T>(stream: ClientReadableStream<T>, print: (message: T) => void): Promise<void> {
  process.once('SIGINT', () => {
    stream.cancel();
    process.exit(0);
  });
  return new Promise((resolve, reject) => {
    stream.on('data', print);
    stream.on('end', resolve);
    stream.on('error', reject);
  });
}
