// A CRI container's own stdio as the daemon holds it while the container runs (containerd's
// pkg/cri/io ContainerIO): its output goes to the CRI log and to whoever is attached at the
// moment, and, for a container created with stdin, an attached client's input goes to its stdin.
import { PassThrough, Writable } from 'node:stream';

/** A client that falls this far behind the container's output is detached rather than buffered without end. */
const MAX_ATTACHED_BACKLOG = 8 * 1024 * 1024;

export interface AttachStreams {
  readonly stdin?: NodeJS.ReadableStream;
  readonly stdout?: Writable;
  readonly stderr?: Writable;
}

/** One output stream, copied to its sink (the log, whose pace it keeps) and to every attached writer. */
class FanOut extends Writable {
  private readonly attached = new Map<Writable, () => void>();

  constructor(private readonly sink: Writable) {
    super();
  }

  /** Resolves when `out` is detached: on detach(), at the end of the output, or when `out` fails or closes. */
  add(out: Writable): { detached: Promise<void>; detach: () => void } {
    let detach!: () => void;
    const detached = new Promise<void>((resolve) => {
      if (this.writableEnded) return resolve();
      detach = () => {
        if (!this.attached.delete(out)) return;
        out.off('error', detach);
        out.off('close', detach);
        resolve();
      };
      this.attached.set(out, detach);
      out.once('error', detach);
      out.once('close', detach);
    });
    return { detached, detach: () => detach?.() };
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    for (const [out, detach] of this.attached) {
      if (out.writableLength > MAX_ATTACHED_BACKLOG) detach();
      else out.write(chunk);
    }
    this.sink.write(chunk, () => done());
  }

  override _final(done: (err?: Error | null) => void): void {
    for (const detach of [...this.attached.values()]) detach();
    this.sink.end(() => done());
  }
}

export interface ContainerIOOptions {
  /** The container was created with stdin (ContainerConfig.stdin). */
  readonly stdin: boolean;
  /** Its stdin closes when the first attached client's input ends (ContainerConfig.stdin_once). */
  readonly stdinOnce: boolean;
  readonly tty: boolean;
}

export class ContainerIO {
  readonly stdout: Writable;
  readonly stderr: Writable;
  /** What the stdin FIFO is fed from; ending it ends the container's input. */
  readonly stdin?: PassThrough;

  constructor(
    sinks: { readonly stdout: Writable; readonly stderr: Writable },
    private readonly options: ContainerIOOptions,
  ) {
    this.stdout = new FanOut(sinks.stdout);
    this.stderr = new FanOut(sinks.stderr);
    if (options.stdin) this.stdin = new PassThrough();
  }

  /**
   * Attaches a client until the container's output ends, the client goes (`gone`), or its input
   * ends: with stdin_once (and no terminal) that closes the container's stdin, which ends the
   * attach once the container's output does; otherwise it detaches the client.
   */
  async attach(client: AttachStreams, gone: Promise<void>): Promise<void> {
    const outputs: { detached: Promise<void>; detach: () => void }[] = [];
    if (client.stdout) outputs.push((this.stdout as FanOut).add(client.stdout));
    if (client.stderr && !this.options.tty) outputs.push((this.stderr as FanOut).add(client.stderr));
    const detachAll = () => outputs.forEach((o) => o.detach());
    void gone.then(detachAll);
    const input = client.stdin;
    const stdin = this.stdin;
    // input for a container without stdin goes nowhere
    if (input && !stdin) input.resume();
    if (input && stdin && !stdin.writableEnded) {
      await new Promise<void>((resolve) => {
        const onData = (data: Buffer) => {
          if (!stdin.writableEnded && !stdin.write(data)) {
            input.pause();
            stdin.once('drain', () => input.resume());
          }
        };
        const stop = () => {
          input.off('data', onData);
          input.off('end', inputEnded);
          resolve();
        };
        const inputEnded = () => {
          if (this.options.stdinOnce && !this.options.tty) stdin.end();
          else detachAll();
          stop();
        };
        input.on('data', onData);
        input.once('end', inputEnded);
        // the output ended or the client went: the input copy stops, the container's stdin stays
        void Promise.all(outputs.map((o) => o.detached)).then(() => outputs.length > 0 && stop());
        void gone.then(stop);
      });
    }
    await Promise.all(outputs.map((o) => o.detached));
  }
}
