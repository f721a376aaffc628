// The real `ctr` as the torture's clients run it: every call's outcome and when it ended, never a throw.
import { spawn, type ChildProcess } from 'node:child_process';

export interface CtrResult {
  readonly code: number;
  readonly out: string;
  /** Date.now() when the process ended. */
  readonly endedAt: number;
}

const inFlight = new Set<ChildProcess>();

/**
 * Ends the calls still running `graceMs` after their daemon died: none of them can be answered
 * any more, and some never end by themselves (ctr's `content ingest` retries an Unavailable
 * writer for ever, content.OpenWriter, so one held a round for the 120 s safety timer).
 */
export function abandonCalls(graceMs: number): void {
  const stragglers = [...inFlight];
  setTimeout(() => stragglers.forEach((child) => child.kill('SIGKILL')), graceMs).unref();
}

export function ctr(address: string, namespace: string, args: readonly string[], stdin?: Buffer): Promise<CtrResult> {
  return new Promise((resolve) => {
    // ctr waits for a connection for ever by default: a call made after the kill must fail, not hold the round
    const child = spawn('ctr', ['--address', address, '--connect-timeout', '10s', '-n', namespace, ...args], { stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    inFlight.add(child);
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    if (stdin) child.stdin!.end(stdin);
    child.stdin?.on('error', () => {}); // the daemon died under the upload
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      inFlight.delete(child);
      resolve({ code: -1, out: err.message, endedAt: Date.now() });
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      inFlight.delete(child);
      resolve({ code: code ?? (signal ? 128 : -1), out: out.trim(), endedAt: Date.now() });
    });
  });
}

/** Lines of a `-q` listing, or the first column of a table without its header. */
export function column(out: string, header: boolean): string[] {
  const lines = out.split('\n').filter((line) => line.trim() !== '');
  return (header ? lines.slice(1) : lines).map((line) => line.trim().split(/\s+/)[0]!);
}
