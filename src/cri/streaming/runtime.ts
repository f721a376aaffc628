// What the streaming server does once a client is connected (containerd's pkg/cri/server
// streaming.go): an exec runs a process in the container through the daemon's Tasks service with
// FIFOs (or a terminal, resized through ResizePty), an attach joins the container's own stdio,
// and a port forward connects to localhost in the pod's network namespace.
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { Writable, type Duplex } from 'node:stream';
import { fifoIO } from '../../client/run/task-io.js';
import { PROCESS_TYPE_URL, type ProcessSpec } from '../../client/run/oci-spec.js';
import { SERVICES, type Rpc } from '../../client/rpc.js';
import { criContainerState } from '../../projections/index.js';
import type { CriContainers } from '../containers.js';
import type { CriPods } from '../pods.js';
import { namespaceModes } from '../sandbox-spec.js';
import type { PodSandboxConfig } from '../types.js';
import type { CommandOutcome, CommandSession } from './command-session.js';
import { dialLocalhost } from './netns-dial.js';

const discard = () => new Writable({ write: (_chunk, _encoding, done) => done() });

export class CriStreamRuntime {
  constructor(
    private readonly rpc: Rpc,
    private readonly containers: CriContainers,
    private readonly pods: CriPods,
    /** Where exec FIFO directories go. */
    private readonly fifoRoot: string,
  ) {}

  /** Runs `cmd` in the container with the session's streams; killed if the client goes first. */
  async exec(containerId: string, cmd: readonly string[], session: CommandSession): Promise<CommandOutcome> {
    const container = this.containers.find(containerId);
    if (!container || criContainerState(container) !== 'CONTAINER_RUNNING') return { error: `container ${containerId} is not running` };
    const { container: record } = await this.rpc.unary<{ container: { spec: { value: Buffer } } }>(SERVICES.containers, 'Get', { id: container.id });
    const base: ProcessSpec = JSON.parse(Buffer.from(record.spec.value).toString('utf8')).process;
    // a terminal gets TERM=xterm, as containerd's CRI gives it
    const env = session.tty ? [...(base.env ?? []).filter((e) => !e.startsWith('TERM=')), 'TERM=xterm'] : base.env;
    const process: ProcessSpec = { ...base, args: [...cmd], terminal: session.tty, env };
    const execId = `exec-${randomBytes(8).toString('hex')}`;
    const task = { container_id: container.id, exec_id: execId };
    const io = fifoIO({
      fifoRoot: join(this.fifoRoot, container.id),
      id: execId,
      stdin: session.stdin,
      stdout: session.stdout ?? discard(),
      stderr: session.stderr ?? discard(),
      terminal: session.tty,
    });
    try {
      await this.rpc.unary(SERVICES.tasks, 'Exec', {
        ...task,
        stdin: io.stdin,
        stdout: io.stdout,
        stderr: io.stderr,
        terminal: session.tty,
        spec: { type_url: PROCESS_TYPE_URL, value: Buffer.from(JSON.stringify(process)) },
      });
      const exited = this.rpc.unary<{ exit_status: number }>(SERVICES.tasks, 'Wait', task);
      await this.rpc.unary(SERVICES.tasks, 'Start', task);
      io.attach();
      session.onResize(({ width, height }) => void this.rpc.unary(SERVICES.tasks, 'ResizePty', { ...task, width, height }).catch(() => undefined));
      void io.stdinClosed.then(() => this.rpc.unary(SERVICES.tasks, 'CloseIO', { ...task, stdin: true }).catch(() => undefined));
      void session.closed.then(() => this.rpc.unary(SERVICES.tasks, 'Kill', { ...task, signal: 9 }).catch(() => undefined));
      const { exit_status: exitCode } = await exited;
      await io.done;
      return { exitCode, description: `error executing command [${cmd.join(' ')}], exit code ${exitCode}` };
    } catch (err) {
      return { error: `error executing command in container: ${(err as Error).message}` };
    } finally {
      await this.rpc.unary(SERVICES.tasks, 'DeleteProcess', task).catch(() => undefined);
      io.close();
    }
  }

  /** Joins the container's own stdio until its output ends, the client goes or its input ends. */
  async attach(containerId: string, session: CommandSession): Promise<CommandOutcome> {
    const container = this.containers.find(containerId);
    if (!container || criContainerState(container) !== 'CONTAINER_RUNNING') return { error: `container ${containerId} is not running` };
    const stdio = this.containers.attachable(container.id);
    if (!stdio) return { error: `container ${container.id}: this daemon does not hold its stdio (its output could not be reattached after a restart)` };
    session.onResize(({ width, height }) => void this.rpc.unary(SERVICES.tasks, 'ResizePty', { container_id: container.id, exec_id: '', width, height }).catch(() => undefined));
    await stdio.attach(session, session.closed);
    return { exitCode: 0, description: '' };
  }

  /** Relays `data` to localhost:port in the pod's network (the host's, for a pod on the host network). */
  async portForward(podId: string, port: number, data: Duplex): Promise<void> {
    const pod = this.pods.find(podId);
    if (!pod || pod.state !== 'SANDBOX_READY') throw new Error(`pod sandbox ${podId} is not ready`);
    const hostNetwork = namespaceModes(pod.config as PodSandboxConfig).network === 'NODE';
    const target = await dialLocalhost(hostNetwork ? '' : pod.netnsPath, port);
    await relay(data, target);
  }
}

/**
 * Copies both ways, each direction ending with a half-close so that a request can still be
 * answered after its sender is done; over once the pod's side has closed (it closes its half
 * when the other has, being no half-open socket), or the client's stream is gone. An error on
 * the pod's side is the forward's error.
 */
function relay(client: Duplex, target: Socket): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    client.pipe(target);
    target.pipe(client);
    target.once('error', reject);
    target.once('close', () => resolve());
    client.once('close', () => target.destroy());
  }).finally(() => {
    client.unpipe(target);
    target.unpipe(client);
    target.destroy();
  });
}
