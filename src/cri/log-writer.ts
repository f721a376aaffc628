// The CRI log format (kubelet's pkg/kubelet/kuberuntime/logs, containerd's pkg/cri/io/logger.go):
// one line per output line, `<RFC3339Nano time> <stdout|stderr> <F|P> <text>`, where P marks a
// piece of a line longer than max_container_log_line_size (the rest follows) and F its end.
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Writable } from 'node:stream';

/** RFC 3339 with nine fraction digits, as Go's time.RFC3339Nano writes a whole-nanosecond time. */
export function rfc3339Nano(date: Date = new Date()): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, (_, ms: string) => `.${ms}000000Z`);
}

/** The file at `path` opened for appending (its directory made when missing), as containerd's openLogFile. */
async function appendTo(path: string): Promise<WriteStream> {
  await mkdir(dirname(path), { recursive: true });
  const handle = await open(path, 'a', 0o640);
  return createWriteStream('', { fd: handle, flags: 'a' });
}

/**
 * A shared log file that both streams of a container write into. `reopen` swaps the file under
 * the streams (log rotation renamed the old one); a line not yet complete goes into the new file.
 */
export class CriLogFile {
  private closed = false;

  private constructor(
    readonly path: string,
    private file: WriteStream,
  ) {}

  static async open(path: string): Promise<CriLogFile> {
    return new CriLogFile(path, await appendTo(path));
  }

  /** A new file at the path, existing when this resolves; the old one gets what was written before. */
  async reopen(): Promise<void> {
    const next = await appendTo(this.path);
    if (this.closed) return void next.end();
    const old = this.file;
    this.file = next;
    await new Promise<void>((resolve) => old.end(resolve));
  }

  /** The sink for one stream: lines in, CRI records out. */
  stream(name: 'stdout' | 'stderr', maxLineSize: number): Writable {
    let pending = Buffer.alloc(0);
    const emit = (text: Buffer, tag: 'F' | 'P') => this.file.write(Buffer.concat([Buffer.from(`${rfc3339Nano()} ${name} ${tag} `), text, Buffer.from('\n')]));
    return new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        pending = Buffer.concat([pending, chunk]);
        for (let newline = pending.indexOf(10); newline >= 0; newline = pending.indexOf(10)) {
          emit(pending.subarray(0, newline), 'F');
          pending = pending.subarray(newline + 1);
        }
        while (maxLineSize > 0 && pending.length >= maxLineSize) {
          emit(pending.subarray(0, maxLineSize), 'P');
          pending = pending.subarray(maxLineSize);
        }
        done();
      },
      final: (done) => {
        if (pending.length > 0) emit(pending, 'F');
        done();
      },
    });
  }

  close(): Promise<void> {
    this.closed = true;
    return new Promise((resolve) => this.file.end(resolve));
  }
}
