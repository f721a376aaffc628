// Terminals: runc creates the pty and sends its master over a console socket (SCM_RIGHTS); the
// shim copies between the master and the client's FIFOs (stdout only: a terminal merges
// stderr into it) and resizes it on ResizePty.
import { closeSync, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openAppend, openFifoReader, openFifoWriter, isFifo } from '../../util/fifo.js';
import { OutputCopy, unreadIn, unreadInFifo } from './output-copy.js';
import { stdioScheme, IoError, type StdioPaths } from './process-io.js';
import { readPtyMaster } from './pty-output.js';
import { receiveFd, setWindowSize } from './syscalls.js';

/** A listening unix socket runc connects to (--console-socket) to hand over the pty master. */
export class ConsoleSocket {
  private readonly server: Server;
  private readonly dir: string;
  readonly path: string;
  private readonly master: Promise<number>;

  private constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'pty'));
    this.path = join(this.dir, 'pty.sock');
    this.server = createServer({ pauseOnConnect: true });
    this.master = new Promise<number>((resolve, reject) => {
      this.server.once('connection', (socket: Socket) => {
        // read the message ourselves (recvmsg) before libuv reads and drops the descriptor
        const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
        if (fd === undefined || fd < 0) return reject(new IoError('console socket: no file descriptor'));
        const poll = (attempt: number): void => {
          try {
            const master = receiveFd(fd);
            if (master !== undefined) {
              socket.destroy();
              return resolve(master);
            }
          } catch (err) {
            socket.destroy();
            return reject(err);
          }
          if (attempt > 6000) return reject(new IoError('console socket: no pty master received'));
          setTimeout(() => poll(attempt + 1), 5);
        };
        poll(0);
      });
    });
    this.master.catch(() => {});
  }

  static async listen(): Promise<ConsoleSocket> {
    const socket = new ConsoleSocket();
    await new Promise<void>((resolve, reject) => {
      socket.server.once('error', reject);
      socket.server.listen(socket.path, resolve);
    });
    return socket;
  }

  /** The pty master runc sent; only after runc create/exec has returned successfully. */
  receiveMaster(): Promise<number> {
    return this.master;
  }

  close(): void {
    this.server.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A pty master with its copies: master -> stdout, stdin -> master. It owns the master (runc
 * handed it over) until close().
 */
export class Console {
  private readonly output: Readable;
  private readonly closers: Array<() => void> = [];
  private stdinWriteHandle: (() => void) | undefined;
  private input: Writable | undefined;
  private closed = false;
  /** The copy of the terminal's output (none without a stdout). */
  readonly outputs: OutputCopy[] = [];

  constructor(
    private readonly master: number,
    stdio: StdioPaths,
  ) {
    try {
      this.output = readPtyMaster(master);
    } catch (err) {
      closeSync(master);
      throw err;
    }
    try {
      this.copyOutput(stdio.stdout);
      if (stdio.stdin) this.copyInput(stdio.stdin);
    } catch (err) {
      this.close();
      throw err;
    }
  }

  private copyOutput(stdout: string): void {
    if (!stdout) return void this.output.resume();
    const { scheme, path } = stdioScheme(stdout);
    if (scheme === 'binary') throw new IoError('binary:// logging is not supported with a terminal');
    const dest = scheme === 'file' ? path : stdout;
    const sourceUnread = () => (this.closed ? 0 : unreadIn(this.master));
    if (scheme === 'fifo' && isFifo(dest)) {
      const writer = openFifoWriter(dest);
      this.closers.push(() => writer.stream.destroy(), writer.closeKeepAlive);
      this.outputs.push(new OutputCopy(this.output, sourceUnread, writer.stream, () => writer.stream.end(), unreadInFifo(writer)));
    } else {
      const file = createWriteStream(dest, { fd: openAppend(dest) });
      this.closers.push(() => file.destroy());
      this.outputs.push(new OutputCopy(this.output, sourceUnread, file, () => file.end()));
    }
  }

  private copyInput(stdin: string): void {
    const reader = openFifoReader(stdin);
    this.stdinWriteHandle = reader.closeWriteHandle;
    // the master is in blocking mode (libuv leaves a pty master blocking): write on the thread pool
    const input = (this.input = createWriteStream('', { fd: this.master, autoClose: false }));
    reader.stream.pipe(input);
    input.on('error', () => reader.stream.destroy());
    this.closers.push(() => reader.stream.destroy(), () => reader.closeWriteHandle());
  }

  /** Resolves when the output has been copied to the end (every slave closed). */
  get copied(): Promise<void> {
    return Promise.all(this.outputs.map((output) => output.done)).then(() => undefined);
  }

  resize(width: number, height: number): void {
    if (!this.closed) setWindowSize(this.master, width, height);
  }

  closeStdin(): void {
    this.stdinWriteHandle?.();
  }

  /** Closes the copies and the master. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const close of this.closers.splice(0)) {
      try {
        close();
      } catch {
        // already closed
      }
    }
    this.output.destroy();
    // destroying the input stream closes its descriptor (the master) once a write under way is done
    if (this.input) this.input.destroy();
    else closeSync(this.master);
  }
}
