// The CRI log format (kubelet's pkg/kubelet/kuberuntime/logs, containerd's pkg/cri/io/logger.go):
// one line per output line, `<RFC3339Nano time> <stdout|stderr> <F|P> <text>`, where P marks a
// piece of a line longer than max_container_log_line_size (the rest follows) and F its end.
import { createWriteStream, type WriteStream } from 'node:fs';
import { Writable } from 'node:stream';

/** RFC 3339 with nine fraction digits, as Go's time.RFC3339Nano writes a whole-nanosecond time. */
export function rfc3339Nano(date: Date = new Date()): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, (_, ms: string) => `.${ms}000000Z`);
}

/** A shared log file that both streams of a container write into. */
export class CriLogFile {
  private readonly file: WriteStream;

  constructor(path: string) {
    this.file = createWriteStream(path, { flags: 'a', mode: 0o640 });
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
    return new Promise((resolve) => this.file.end(resolve));
  }
}
