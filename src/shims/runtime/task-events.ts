import { taskEventType } from '../wire/protocol/events.js';
import { decode, nsFromTimestamp, type AnyValue, type TimestampValue } from '../wire/protocol/protowire.js';
import type { MountValue } from '../wire/protocol/task.js';
import type { ShimEvent, TimestampedShimEvent } from './task-runtime.js';

/** The ShimEvent kind of each /tasks/* topic a shim publishes. */
const KINDS: Readonly<Record<string, ShimEvent['kind']>> = {
  '/tasks/create': 'create',
  '/tasks/start': 'start',
  '/tasks/exit': 'exit',
  '/tasks/delete': 'delete',
  '/tasks/exec-added': 'exec-added',
  '/tasks/exec-started': 'exec-started',
  '/tasks/paused': 'paused',
  '/tasks/resumed': 'resumed',
  '/tasks/oom': 'oom',
};

/** containerd.services.events.ttrpc.v1.Envelope as decoded. */
export interface Envelope {
  timestamp: TimestampValue | undefined;
  namespace: string;
  topic: string;
  event: AnyValue | undefined;
}

export class BadEnvelopeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadEnvelopeError';
  }
}

const mounts = (list: MountValue[]) => list.map((m) => ({ type: m.type, source: m.source, ...(m.target ? { target: m.target } : {}), options: m.options }));

/**
 * A shim's /tasks/* envelope as a ShimEvent; undefined for topics that are not task events.
 * Throws BadEnvelopeError when the namespace is missing or the payload does not match the topic.
 */
export function decodeTaskEvent(envelope: Envelope): TimestampedShimEvent | undefined {
  const kind = KINDS[envelope.topic];
  const type = taskEventType(envelope.topic);
  if (!kind || !type) return undefined;
  const { namespace } = envelope;
  if (!namespace) throw new BadEnvelopeError(`event ${envelope.topic}: namespace is required`);
  const typeName = envelope.event?.type_url.slice(envelope.event.type_url.lastIndexOf('/') + 1);
  if (typeName !== type.name) throw new BadEnvelopeError(`event ${envelope.topic}: payload ${envelope.event?.type_url || '(none)'} is not ${type.name}`);
  let e: Record<string, any>;
  try {
    e = decode(type, envelope.event!.value);
  } catch (err) {
    throw new BadEnvelopeError(`event ${envelope.topic}: ${(err as Error).message}`);
  }
  const base = { namespace, containerId: e.container_id as string, timestamp: nsFromTimestamp(envelope.timestamp) };
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
      return { ...base, kind, id: e.id, pid: e.pid, exitStatus: e.exit_status, exitedAt: nsFromTimestamp(e.exited_at) };
    case 'delete':
      return { ...base, kind, pid: e.pid, exitStatus: e.exit_status, exitedAt: nsFromTimestamp(e.exited_at) };
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
