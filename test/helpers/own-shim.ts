// Drives containerd-shim-ledger-v1 as a daemon does (runtime/v2/binary.go, shim.go): the
// `start` action in the bundle, a ttrpc client on the printed address, and a ttrpc Events
// server standing in for the daemon's, which receives the shim's Forward calls.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, constants, readFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decode, encode, type Message, type MessageType } from '../../src/shims/wire/protocol/protowire.js';
import { EVENTS_SERVICE, ForwardRequest, taskEventType } from '../../src/shims/wire/protocol/events.js';
import { TASK_SERVICE } from '../../src/shims/wire/protocol/task.js';
import { NAMESPACE_METADATA_KEY, TtrpcClient, TtrpcServer } from '../../src/shims/wire/ttrpc/index.js';

/** bin/containerd-shim-ledger-v1 of this checkout (test files run from dist/test/shims). */
export const SHIM_BINARY = fileURLToPath(new URL('../../../bin/containerd-shim-ledger-v1', import.meta.url));

export interface ShimStart {
  readonly address: string;
  readonly socket: string;
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number | null;
}

/** `<shim> -namespace N -address A -publish-binary X -id ID start` with CWD = bundle, as containerd runs it. */
export function runShimAction(
  action: 'start' | 'delete',
  options: { namespace: string; id: string; bundle: string; daemonAddress: string; ttrpcAddress?: string; stdin?: Uint8Array; binary?: string },
): Promise<{ stdout: Buffer; stderr: string; code: number | null }> {
  const args = ['-namespace', options.namespace, '-address', options.daemonAddress, '-publish-binary', '/usr/bin/containerd', '-id', options.id];
  if (action === 'delete') args.push('-bundle', options.bundle);
  args.push(action);
  return new Promise((resolve, reject) => {
    const child = spawn(options.binary ?? SHIM_BINARY, args, {
      cwd: options.bundle,
      detached: true, // Setpgid, as containerd
      env: { ...process.env, TTRPC_ADDRESS: options.ttrpcAddress ?? '', GOMAXPROCS: '2' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ stdout: Buffer.concat(out), stderr, code }));
    child.stdin.end(options.stdin ?? Buffer.alloc(0));
  });
}

/** The daemon's end of <bundle>/log (runtime/v2/binary.go opens it before `start`): what the shim logged. */
const shimLogs = new Map<string, { text: string }>();

export function shimLog(bundle: string): string {
  return shimLogs.get(bundle)?.text ?? '';
}

function openShimLog(bundle: string): void {
  if (shimLogs.has(bundle)) return;
  const path = join(bundle, 'log');
  mkfifoSync(path);
  const log = { text: '' };
  const socket = new Socket({ fd: openSync(path, constants.O_RDWR | constants.O_NONBLOCK), readable: true, writable: false });
  socket.on('data', (chunk: Buffer) => (log.text += chunk.toString()));
  socket.unref();
  shimLogs.set(bundle, log);
}

export async function startShim(options: Parameters<typeof runShimAction>[1]): Promise<ShimStart> {
  openShimLog(options.bundle);
  const { stdout, stderr, code } = await runShimAction('start', options);
  const address = stdout.toString().trim();
  return { address, socket: address.replace(/^unix:\/\//, ''), stdout: stdout.toString(), stderr, code };
}

/** A ttrpc client of one shim with typed calls. */
export class ShimClient {
  private constructor(
    readonly client: TtrpcClient,
    private readonly namespace: string,
  ) {}

  static async connect(socket: string, namespace: string): Promise<ShimClient> {
    return new ShimClient(await TtrpcClient.connect(socket, { timeoutMs: 10_000 }), namespace);
  }

  async call<T = Message>(method: string, requestType: MessageType, request: Message, responseType?: MessageType, timeoutMs = 20_000): Promise<T> {
    const payload = await this.client.call(TASK_SERVICE, method, encode(requestType, request), { timeoutMs, metadata: { [NAMESPACE_METADATA_KEY]: this.namespace } });
    return (responseType ? decode<T>(responseType, payload) : ({} as T)) as T;
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

export interface ReceivedEvent {
  readonly topic: string;
  readonly namespace: string;
  readonly timestamp: number;
  readonly event: Message;
  readonly typeUrl: string;
}

/** A stand-in for the daemon's ttrpc Events service: collects every Forward. */
export class EventsServer {
  readonly received: ReceivedEvent[] = [];
  private readonly server = new TtrpcServer();
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: string) {
    this.server.register(EVENTS_SERVICE, {
      Forward: (payload) => {
        const { envelope } = decode<{ envelope?: { timestamp?: { seconds: number }; namespace: string; topic: string; event?: { type_url: string; value: Uint8Array } } }>(ForwardRequest, payload);
        if (envelope) {
          const type = taskEventType(envelope.topic);
          this.received.push({
            topic: envelope.topic,
            namespace: envelope.namespace,
            timestamp: envelope.timestamp?.seconds ?? 0,
            typeUrl: envelope.event?.type_url ?? '',
            event: type && envelope.event ? decode(type, envelope.event.value) : {},
          });
          for (const wake of this.waiters.splice(0)) wake();
        }
        return new Uint8Array(0);
      },
    });
  }

  static async listen(dir: string): Promise<EventsServer> {
    mkdirSync(dir, { recursive: true });
    const server = new EventsServer(join(dir, 'events.ttrpc'));
    await server.server.listen(server.socket);
    return server;
  }

  /** Resolves with the first event matching, waiting for it up to `timeoutMs`. */
  async waitFor(topic: string, match: (event: Message) => boolean = () => true, timeoutMs = 10_000): Promise<ReceivedEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.received.find((e) => e.topic === topic && match(e.event));
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no ${topic} event within ${timeoutMs} ms; got ${this.received.map((e) => e.topic).join(', ')}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }

  close(): Promise<void> {
    return this.server.close();
  }
}

/** A client-side FIFO as ctr makes it (mkfifo, opened O_NONBLOCK before Create): read its text to EOF. */
export function readFifo(path: string): { path: string; text: () => string; ended: Promise<string> } {
  mkfifoSync(path);
  const socket = new Socket({ fd: openSync(path, constants.O_RDONLY | constants.O_NONBLOCK), readable: true, writable: false });
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const ended = new Promise<string>((resolve) => socket.once('end', () => resolve(text)));
  return { path, text: () => text, ended };
}

/** The write side of a stdin FIFO; the shim opens the read side during Create/Exec. */
export function stdinFifo(path: string): { path: string; write: (text: string) => void; close: () => void } {
  mkfifoSync(path);
  // O_RDWR: opening never waits for the shim (ctr's fifo package waits in a goroutine instead)
  const socket = new Socket({ fd: openSync(path, constants.O_RDWR | constants.O_NONBLOCK), readable: false, writable: true });
  return { path, write: (text) => void socket.write(text), close: () => void socket.end() };
}

function mkfifoSync(path: string): void {
  if (existsSync(path)) return;
  const r = spawnSync('mkfifo', ['-m', '0700', path], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mkfifo ${path}: ${r.stderr}`);
}

/** Whether a process is alive: it exists and is not a zombie waiting for its reaper. */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The pid of a shim from its socket's address file content. */
export function readAddressFile(bundle: string): string {
  return readFileSync(join(bundle, 'address'), 'utf8').trim();
}
