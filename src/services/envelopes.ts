import type { LogRecord } from '../log/index.js';
import {
  topicOf,
  type ContainerCreated,
  type ContainerDeleted,
  type ContainerUpdated,
  type ContentDeleted,
  type EnvelopePublished,
  type ImageCreated,
  type ImageDeleted,
  type NamespaceCreated,
  type NamespaceDeleted,
  type SnapshotCommitted,
  type SnapshotPrepared,
  type SnapshotRemoved,
  type TaskCreated,
  type TaskExecAdded,
  type TaskExecStarted,
  type TaskExited,
  type TaskDeleted,
  type TaskStarted,
  type TaskStateChanged,
} from '../events/index.js';
import type { Adaptor } from '../filters/index.js';
import { packAny, timestamp, unchangingMessage, unpackAny } from '../api/proto.js';

/** A containerd event envelope (containerd.services.events.v1.Envelope) before encoding. */
export interface Envelope {
  readonly timestamp: { seconds: number; nanos: number };
  readonly namespace: string;
  readonly topic: string;
  readonly event: { type_url: string; value: Uint8Array };
}

interface Translation {
  readonly message: string;
  readonly body: (payload: never) => Record<string, unknown>;
  /** The envelope's namespace; containerd publishes namespace create/update in the caller's. */
  readonly namespace?: (record: LogRecord) => string;
}

const callersNamespace = (record: LogRecord) => String(record.meta.requestNamespace ?? record.namespace);

/** How each ledgerd event is shown to containerd's clients. */
const TRANSLATIONS: Record<string, Translation> = {
  NamespaceCreated: {
    message: 'containerd.events.NamespaceCreate',
    body: (p: NamespaceCreated) => ({ name: p.name, labels: p.labels }),
    namespace: callersNamespace,
  },
  NamespaceUpdated: {
    message: 'containerd.events.NamespaceUpdate',
    body: (p: NamespaceCreated) => ({ name: p.name, labels: p.labels }),
    namespace: callersNamespace,
  },
  NamespaceDeleted: { message: 'containerd.events.NamespaceDelete', body: (p: NamespaceDeleted) => ({ name: p.name }) },
  ImageCreated: { message: 'containerd.services.images.v1.ImageCreate', body: (p: ImageCreated) => ({ name: p.name, labels: p.labels }) },
  ImageUpdated: { message: 'containerd.services.images.v1.ImageUpdate', body: (p: ImageCreated) => ({ name: p.name, labels: p.labels }) },
  ImageDeleted: { message: 'containerd.services.images.v1.ImageDelete', body: (p: ImageDeleted) => ({ name: p.name }) },
  SnapshotPrepared: { message: 'containerd.events.SnapshotPrepare', body: (p: SnapshotPrepared) => ({ key: p.key, parent: p.parent }) },
  SnapshotCommitted: { message: 'containerd.events.SnapshotCommit', body: (p: SnapshotCommitted) => ({ key: p.key, name: p.name }) },
  SnapshotRemoved: { message: 'containerd.events.SnapshotRemove', body: (p: SnapshotRemoved) => ({ key: p.key }) },
  ContentDeleted: { message: 'containerd.events.ContentDelete', body: (p: ContentDeleted) => ({ digest: p.digest }) },
  ContainerCreated: {
    message: 'containerd.events.ContainerCreate',
    body: (p: ContainerCreated) => ({
      id: p.id,
      image: p.image,
      runtime: { name: p.runtime.name, ...(p.runtime.options ? { options: { type_url: p.runtime.options.typeUrl, value: Buffer.from(p.runtime.options.value) } } : {}) },
    }),
  },
  ContainerUpdated: {
    message: 'containerd.events.ContainerUpdate',
    body: (p: ContainerUpdated) => ({ id: p.id, image: p.image, labels: p.labels, snapshot_key: p.snapshotKey }),
  },
  ContainerDeleted: { message: 'containerd.events.ContainerDelete', body: (p: ContainerDeleted) => ({ id: p.id }) },
  TaskCreated: {
    message: 'containerd.events.TaskCreate',
    body: (p: TaskCreated) => ({
      container_id: p.containerId,
      bundle: p.bundle,
      rootfs: p.rootfs.map((m) => ({ type: m.type, source: m.source, target: m.target, options: [...m.options] })),
      io: { stdin: p.io.stdin, stdout: p.io.stdout, stderr: p.io.stderr, terminal: p.io.terminal },
      checkpoint: p.checkpoint,
      pid: p.pid,
    }),
  },
  TaskStarted: { message: 'containerd.events.TaskStart', body: (p: TaskStarted) => ({ container_id: p.containerId, pid: p.pid }) },
  TaskExited: {
    message: 'containerd.events.TaskExit',
    body: (p: TaskExited) => ({ container_id: p.containerId, id: p.id, pid: p.pid, exit_status: p.exitStatus, exited_at: timestamp(BigInt(p.exitedAt)) }),
  },
  TaskDeleted: {
    message: 'containerd.events.TaskDelete',
    body: (p: TaskDeleted) => ({ container_id: p.containerId, pid: p.pid, exit_status: p.exitStatus, exited_at: timestamp(BigInt(p.exitedAt)), id: '' }),
  },
  TaskExecAdded: { message: 'containerd.events.TaskExecAdded', body: (p: TaskExecAdded) => ({ container_id: p.containerId, exec_id: p.execId }) },
  TaskExecStarted: {
    message: 'containerd.events.TaskExecStarted',
    body: (p: TaskExecStarted) => ({ container_id: p.containerId, exec_id: p.execId, pid: p.pid }),
  },
  TaskPaused: { message: 'containerd.events.TaskPaused', body: (p: TaskStateChanged) => ({ container_id: p.containerId }) },
  TaskResumed: { message: 'containerd.events.TaskResumed', body: (p: TaskStateChanged) => ({ container_id: p.containerId }) },
  TaskOOM: { message: 'containerd.events.TaskOOM', body: (p: TaskStateChanged) => ({ container_id: p.containerId }) },
};

export interface EnvelopeWithBody {
  readonly envelope: Envelope;
  /** The decoded event, for `event.<field>` filters (undefined when its type is unknown). */
  readonly body: Record<string, unknown> | undefined;
}

/** When it happened: a shim's own timestamp for what a shim reported (containerd forwards envelopes unchanged), else the append's. */
function eventTime(record: LogRecord): bigint {
  const reported = record.meta.shimTimestamp;
  return typeof reported === 'string' && /^\d+$/.test(reported) ? BigInt(reported) : record.time;
}

/** The containerd envelope a log record is published as, or undefined when it has no topic. */
export function toEnvelope(record: LogRecord): EnvelopeWithBody | undefined {
  if (record.type === 'EnvelopePublished') {
    const published = record.payload as EnvelopePublished;
    const event = { type_url: published.typeUrl, value: published.value };
    return {
      envelope: { timestamp: timestamp(published.timestamp), namespace: record.namespace, topic: published.topic, event },
      body: unpackAny(event),
    };
  }
  const topic = topicOf(record.type, record.payload);
  const translation = TRANSLATIONS[record.type];
  if (!topic || !translation) return undefined;
  const body = translation.body(record.payload as never);
  return {
    envelope: {
      timestamp: timestamp(eventTime(record)),
      namespace: translation.namespace?.(record) ?? record.namespace,
      topic,
      event: packAny(translation.message, body),
    },
    body,
  };
}

/**
 * Envelopes of recent records, shared by every subscriber of one log: a hundred subscribers at
 * the head encode each event once, not a hundred times. Records never change, so seq is the key.
 */
const CACHE_SIZE = 4096;
const caches = new WeakMap<object, Map<number, EnvelopeWithBody | undefined>>();

export function cachedEnvelope(log: object, record: LogRecord): EnvelopeWithBody | undefined {
  let cache = caches.get(log);
  if (!cache) caches.set(log, (cache = new Map()));
  if (cache.has(record.seq)) return cache.get(record.seq);
  const translated = toEnvelope(record);
  if (translated) unchangingMessage(translated.envelope);
  cache.set(record.seq, translated);
  if (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value!);
  return translated;
}

/** Filter fields of an envelope: namespace, topic, event.<field…> (strings and label maps). */
export function envelopeAdaptor({ envelope, body }: EnvelopeWithBody): Adaptor {
  return {
    field(path: string[]) {
      const [head, ...rest] = path;
      if (rest.length === 0 && head === 'namespace') return envelope.namespace;
      if (rest.length === 0 && head === 'topic') return envelope.topic;
      if (head === 'event' && body) return lookup(body, rest);
      return undefined;
    },
  };
}

function lookup(object: Record<string, unknown>, path: string[]): string | undefined {
  const [head, ...rest] = path;
  if (head === undefined) return undefined;
  const value = object[head];
  if (rest.length === 0) return typeof value === 'string' ? value : undefined;
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const nested = value as Record<string, unknown>;
    // a map field (labels) takes the rest of the path, dots included, as its key
    const joined = nested[rest.join('.')];
    if (typeof joined === 'string') return joined;
    return lookup(nested, rest);
  }
  return undefined;
}
