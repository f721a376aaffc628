import { messageCodec, nanosFromTimestamp, timestampFromNanos } from './proto.js';
import type { RootfsMount, ShimEvent, TimestampedShimEvent } from './runtime.js';

/** The /tasks/* topics a shim publishes and the containerd.events message each carries. */
export const TASK_TOPICS = {
  create: { topic: '/tasks/create', type: 'containerd.events.TaskCreate' },
  start: { topic: '/tasks/start', type: 'containerd.events.TaskStart' },
  exit: { topic: '/tasks/exit', type: 'containerd.events.TaskExit' },
  delete: { topic: '/tasks/delete', type: 'containerd.events.TaskDelete' },
  'exec-added': { topic: '/tasks/exec-added', type: 'containerd.events.TaskExecAdded' },
  'exec-started': { topic: '/tasks/exec-started', type: 'containerd.events.TaskExecStarted' },
  paused: { topic: '/tasks/paused', type: 'containerd.events.TaskPaused' },
  resumed: { topic: '/tasks/resumed', type: 'containerd.events.TaskResumed' },
  oom: { topic: '/tasks/oom', type: 'containerd.events.TaskOOM' },
} as const satisfies Record<ShimEvent['kind'], { topic: string; type: string }>;

const KIND_BY_TOPIC = new Map<string, ShimEvent['kind']>(Object.entries(TASK_TOPICS).map(([kind, { topic }]) => [topic, kind as ShimEvent['kind']]));

/** containerd.services.events.ttrpc.v1.Envelope as decoded. */
export interface Envelope {
  timestamp: { seconds: number; nanos: number } | null;
  namespace: string;
  topic: string;
  event: { type_url: string; value: Buffer } | null;
}

export class BadEnvelopeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadEnvelopeError';
  }
}

/** Mounts as decoded from containerd.types.Mount. */
const mounts = (list: { type: string; source: string; target: string; options: string[] }[]): RootfsMount[] =>
  list.map((m) => ({ type: m.type, source: m.source, ...(m.target ? { target: m.target } : {}), options: m.options }));

/**
 * A shim's /tasks/* envelope as a ShimEvent; undefined for topics that are not task events.
 * Throws BadEnvelopeError when the envelope lacks its namespace or its payload does not match
 * the topic.
 */
export function decodeTaskEvent(envelope: Envelope): TimestampedShimEvent | undefined {
  const kind = KIND_BY_TOPIC.get(envelope.topic);
  if (!kind) return undefined;
  const { namespace } = envelope;
  if (!namespace) throw new BadEnvelopeError(`event ${envelope.topic}: namespace is required`);
  const expected = TASK_TOPICS[kind].type;
  const typeName = envelope.event?.type_url.slice(envelope.event.type_url.lastIndexOf('/') + 1);
  if (typeName !== expected) throw new BadEnvelopeError(`event ${envelope.topic}: payload ${envelope.event?.type_url ?? '(none)'} is not ${expected}`);
  let e: Record<string, any>;
  try {
    e = messageCodec(expected).decode(envelope.event!.value);
  } catch (err) {
    throw new BadEnvelopeError(`event ${envelope.topic}: ${(err as Error).message}`);
  }
  const base = { namespace, containerId: e.container_id as string, timestamp: nanosFromTimestamp(envelope.timestamp) };
  switch (kind) {
    case 'create':
      return {
        ...base,
        kind,
        pid: e.pid,
        bundle: e.bundle,
        stdio: { stdin: e.io?.stdin ?? '', stdout: e.io?.stdout ?? '', stderr: e.io?.stderr ?? '', terminal: e.io?.terminal ?? false },
        rootfs: mounts(e.rootfs),
        checkpoint: e.checkpoint,
      };
    case 'start':
      return { ...base, kind, pid: e.pid };
    case 'exit':
      return { ...base, kind, id: e.id, pid: e.pid, exitStatus: e.exit_status, exitedAt: nanosFromTimestamp(e.exited_at) };
    case 'delete':
      return { ...base, kind, pid: e.pid, exitStatus: e.exit_status, exitedAt: nanosFromTimestamp(e.exited_at) };
    case 'exec-added':
      return { ...base, kind, execId: e.exec_id };
    case 'exec-started':
      return { ...base, kind, execId: e.exec_id, pid: e.pid };
    case 'paused':
    case 'resumed':
    case 'oom':
      return { ...base, kind };
  }
}

/** A ShimEvent as the envelope a shim forwards (the other direction, for a shim written here). */
export function encodeTaskEvent(event: TimestampedShimEvent): Envelope {
  const { topic, type } = TASK_TOPICS[event.kind];
  const common = { container_id: event.containerId };
  let payload: Record<string, unknown>;
  switch (event.kind) {
    case 'create':
      payload = { ...common, bundle: event.bundle, rootfs: event.rootfs, io: event.stdio, checkpoint: event.checkpoint, pid: event.pid };
      break;
    case 'start':
      payload = { ...common, pid: event.pid };
      break;
    case 'exit':
      payload = { ...common, id: event.id, pid: event.pid, exit_status: event.exitStatus, exited_at: timestampFromNanos(event.exitedAt) };
      break;
    case 'delete':
      payload = { ...common, pid: event.pid, exit_status: event.exitStatus, exited_at: timestampFromNanos(event.exitedAt) };
      break;
    case 'exec-added':
      payload = { ...common, exec_id: event.execId };
      break;
    case 'exec-started':
      payload = { ...common, exec_id: event.execId, pid: event.pid };
      break;
    default:
      payload = common;
  }
  return {
    timestamp: timestampFromNanos(event.timestamp),
    namespace: event.namespace,
    topic,
    event: { type_url: type, value: Buffer.from(messageCodec(type).encode(payload)) },
  };
}
