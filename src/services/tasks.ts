import type { TaskCommands } from '../commands/tasks.js';
import type { AnyMessage, ExitResult, ProcessState, RootfsMount } from '../shims/runtime/task-runtime.js';
import { adaptorFromFields, parseFilters } from '../filters/index.js';
import { Code } from '../util/grpc-codes.js';
import { unary, type Implementation } from './handlers.js';
import { timestamp } from '../api/proto.js';
import { requestMeta, requireNamespace } from './request.js';
import { SERVICES } from '../api/services.js';

export const TASKS_SERVICE = SERVICES.tasks;

interface WireAny {
  type_url?: string;
  value?: Uint8Array;
}

const anyFromWire = (any: WireAny | null | undefined): AnyMessage | undefined =>
  any && any.type_url ? { typeUrl: any.type_url, value: Buffer.from(any.value ?? []) } : undefined;
const anyToWire = (any: AnyMessage | undefined) => (any ? { type_url: any.typeUrl, value: Buffer.from(any.value) } : null);

const mounts = (list: { type?: string; source?: string; target?: string; options?: string[] }[] | undefined): RootfsMount[] =>
  (list ?? []).map((m) => ({ type: m.type ?? '', source: m.source ?? '', target: m.target ?? '', options: m.options ?? [] }));

/** containerd.v1.types.Process; 1.6 leaves container_id empty in Get and List. */
const process = (state: ProcessState) => ({
  container_id: '',
  id: state.id,
  pid: state.pid,
  status: state.status.toUpperCase(),
  stdin: state.stdin,
  stdout: state.stdout,
  stderr: state.stderr,
  terminal: state.terminal,
  exit_status: state.exitStatus,
  exited_at: timestamp(state.exitedAt),
});

const exited = (id: string, result: ExitResult) => ({ id, pid: result.pid, exit_status: result.exitStatus, exited_at: timestamp(result.exitedAt) });

/** containerd.services.tasks.v1.Tasks over the shim runtime. */
export function tasksService(tasks: TaskCommands): Implementation {
  const ns = requireNamespace;
  return {
    Create: unary(async (call) => {
      const r = call.request;
      const { pid } = await tasks.create(ns(call), {
        containerId: String(r.container_id ?? ''),
        rootfs: mounts(r.rootfs),
        stdin: r.stdin ?? '',
        stdout: r.stdout ?? '',
        stderr: r.stderr ?? '',
        terminal: Boolean(r.terminal),
        options: anyFromWire(r.options),
        runtimePath: r.runtime_path || undefined,
        checkpoint: r.checkpoint?.digest || undefined,
      }, requestMeta(call));
      return { container_id: r.container_id, pid };
    }),
    Start: unary(async (call) => tasks.start(ns(call), call.request.container_id, call.request.exec_id, requestMeta(call))),
    Delete: unary(async (call) => exited('', await tasks.delete(ns(call), call.request.container_id, requestMeta(call)))),
    DeleteProcess: unary(async (call) => exited(call.request.exec_id, await tasks.deleteProcess(ns(call), call.request.container_id, call.request.exec_id ?? '', requestMeta(call)))),
    Get: unary(async (call) => ({ process: process(await tasks.state(ns(call), call.request.container_id, call.request.exec_id)) })),
    List: unary(async (call) => ({ tasks: (await tasks.list(ns(call))).map(process) })),
    Kill: unary(async (call) => {
      const r = call.request;
      await tasks.kill(ns(call), r.container_id, Number(r.signal ?? 0), r.exec_id ?? '', Boolean(r.all));
    }),
    Exec: unary(async (call) => {
      const r = call.request;
      await tasks.exec(ns(call), r.container_id, {
        execId: r.exec_id ?? '',
        stdin: r.stdin ?? '',
        stdout: r.stdout ?? '',
        stderr: r.stderr ?? '',
        terminal: Boolean(r.terminal),
        spec: anyFromWire(r.spec),
      }, requestMeta(call));
    }),
    ResizePty: unary(async (call) => {
      const r = call.request;
      await tasks.resizePty(ns(call), r.container_id, r.exec_id ?? '', Number(r.width ?? 0), Number(r.height ?? 0));
    }),
    CloseIO: unary(async (call) => tasks.closeIO(ns(call), call.request.container_id, call.request.exec_id ?? '', Boolean(call.request.stdin))),
    Pause: unary(async (call) => tasks.pause(ns(call), call.request.container_id, requestMeta(call))),
    Resume: unary(async (call) => tasks.resume(ns(call), call.request.container_id, requestMeta(call))),
    ListPids: unary(async (call) => ({
      processes: (await tasks.pids(ns(call), call.request.container_id)).map((p) => ({ pid: p.pid, info: anyToWire(p.info) })),
    })),
    Checkpoint: unary((call) => tasks.checkpoint(ns(call), call.request.container_id ?? '')),
    Update: unary(async (call) => tasks.update(ns(call), call.request.container_id, anyFromWire(call.request.resources), call.request.annotations ?? {})),
    Metrics: unary(async (call) => {
      // containerd answers a bad filter here with Unknown (services/tasks/local.go); bad input is InvalidArgument
      const filter = parseFilters(call.request.filters ?? []);
      const matching = tasks.allTasks().filter((task) => filter.match(adaptorFromFields({ id: task.id, namespace: task.namespace })));
      const metrics = await Promise.all(
        matching.map(async (task) => {
          const collected = BigInt(Date.now()) * 1_000_000n;
          const data = await task.stats().catch(() => undefined);
          return data ? { timestamp: timestamp(collected), id: task.id, data: anyToWire(data) } : undefined;
        }),
      );
      return { metrics: metrics.filter((m) => m !== undefined) };
    }),
    Wait: unary(async (call) => {
      const result = await tasks.wait(ns(call), call.request.container_id, call.request.exec_id);
      return { exit_status: result.exitStatus, exited_at: timestamp(result.exitedAt) };
    }),
  };
}
