// What an exec or attach sees of its client, whichever transport carried it (SPDY streams or
// websocket channels): the streams the request asked for, terminal sizes as they come, and a way
// to hand back the outcome in the form the negotiated protocol wants.
import type { Readable, Writable } from 'node:stream';

export interface TerminalSize {
  readonly width: number;
  readonly height: number;
}

/** How a command ended: its exit status, or an error that kept it from running to the end. */
export type CommandOutcome = { readonly exitCode: number; readonly description: string } | { readonly error: string };

export interface StreamOptions {
  readonly stdin: boolean;
  readonly stdout: boolean;
  readonly stderr: boolean;
  readonly tty: boolean;
}

export interface CommandSession {
  readonly tty: boolean;
  readonly stdin?: Readable;
  readonly stdout?: Writable;
  readonly stderr?: Writable;
  /** Calls `listener` with each terminal size the client sends. */
  onResize(listener: (size: TerminalSize) => void): void;
  /** Resolves when the client's connection is gone, whatever the reason. */
  readonly closed: Promise<void>;
  /** Reports the outcome on the error channel, ends the streams and closes the connection. */
  finish(outcome: CommandOutcome): Promise<void>;
}

/**
 * metav1.Status as JSON, as the v4 protocols carry it: Success, or Failure with reason
 * NonZeroExitCode and the code as an ExitCode cause (kubelet's remotecommand.ServeExec), or an
 * InternalError.
 */
export function statusJson(outcome: CommandOutcome): string {
  if ('error' in outcome) {
    return JSON.stringify({
      metadata: {},
      status: 'Failure',
      message: `Internal error occurred: ${outcome.error}`,
      reason: 'InternalError',
      details: { causes: [{ message: outcome.error }] },
      code: 500,
    });
  }
  if (outcome.exitCode === 0) return JSON.stringify({ metadata: {}, status: 'Success' });
  return JSON.stringify({
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: ${outcome.description}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(outcome.exitCode) }] },
  });
}

/** The pre-v4 form: nothing on success, else the status's message as text. */
export function statusText(outcome: CommandOutcome): string | undefined {
  if ('error' in outcome) return `Internal error occurred: ${outcome.error}`;
  return outcome.exitCode === 0 ? undefined : `command terminated with non-zero exit code: ${outcome.description}`;
}

/**
 * Terminal sizes as a session hands them on: a listener added late (the process starts after the
 * client's first size arrived) gets the latest size at once.
 */
export class ResizeEvents {
  private latest?: TerminalSize;
  private readonly listeners: ((size: TerminalSize) => void)[] = [];

  emit = (size: TerminalSize): void => {
    this.latest = size;
    for (const listener of this.listeners) listener(size);
  };

  listen = (listener: (size: TerminalSize) => void): void => {
    this.listeners.push(listener);
    if (this.latest) listener(this.latest);
  };
}

/**
 * Terminal sizes from a resize channel: JSON objects `{"Width":w,"Height":h}` one after another
 * (Go's json.Encoder puts a newline after each; a websocket message holds one).
 */
export function terminalSizes(listener: (size: TerminalSize) => void): (chunk: Buffer) => void {
  let pending = '';
  return (chunk) => {
    pending += chunk.toString('utf8');
    let depth = 0;
    let start = -1;
    let consumed = 0;
    for (let i = 0; i < pending.length; i++) {
      const c = pending[i];
      if (c === '{' && depth++ === 0) start = i;
      else if (c === '}' && depth > 0 && --depth === 0) {
        consumed = i + 1;
        try {
          const size = JSON.parse(pending.slice(start, i + 1)) as { Width?: number; Height?: number };
          if (Number.isInteger(size.Width) && Number.isInteger(size.Height)) listener({ width: size.Width!, height: size.Height! });
        } catch {
          // not JSON: skipped, as kubelet's decoder would stop on it
        }
      }
    }
    pending = pending.slice(consumed);
    if (pending.length > 4096) pending = '';
  };
}
