// What consumers of the export get for one log record: a subject that says where it is from and
// what it is, headers for de-duplication and routing, and the record as JSON.
import type { LogRecord } from '../log/index.js';
import { toJson } from '../util/json.js';

/** Version of the message body below; bump it when its shape changes. */
export const MESSAGE_FORMAT = 1;

export interface ExportMessage {
  readonly subject: string;
  /** JetStream's Nats-Msg-Id: unique per node and seq, so a fleet can share one stream. */
  readonly msgId: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

/**
 * One subject token from a name: NATS tokens cannot hold '.', '*', '>' or whitespace, and
 * containerd namespaces ("k8s.io") and host names hold dots; every character but letters, digits,
 * '_' and '-' is percent-encoded (so "k8s.io" is "k8s%2Eio"), and an empty name is "_" (which no
 * namespace can be: they start with a letter or digit).
 */
export function subjectToken(name: string): string {
  if (name === '') return '_';
  return Array.from(name, (ch) =>
    /^[A-Za-z0-9_-]$/.test(ch) ? ch : [...Buffer.from(ch)].map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  ).join('');
}

/** A subject prefix as configured: dot-separated tokens, none empty, no wildcards, no spaces. */
export function checkSubjectPrefix(prefix: string): string {
  if (!prefix || prefix.split('.').some((token) => token === '' || /[\s*>]/.test(token))) {
    throw new Error(`subject_prefix "${prefix}": must be dot-separated NATS subject tokens without wildcards or spaces, e.g. "ledgerd"`);
  }
  return prefix;
}

/** `<prefix>.<node>.<namespace>.<type>`; `<prefix>.<node>.>` is every record of one node. */
export const recordSubject = (prefix: string, node: string, record: Pick<LogRecord, 'namespace' | 'type'>): string =>
  `${prefix}.${subjectToken(node)}.${subjectToken(record.namespace)}.${subjectToken(record.type)}`;

export const nodeSubjects = (prefix: string, node: string): string => `${prefix}.${subjectToken(node)}.>`;

export const messageId = (node: string, seq: number): string => `${node}:${seq}`;

/** RFC 3339 with the nanoseconds the log keeps. */
export function rfc3339Nanos(ns: bigint): string {
  const ms = ns / 1_000_000n;
  const iso = new Date(Number(ms)).toISOString();
  return `${iso.slice(0, 19)}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}Z`;
}

export function exportMessage(prefix: string, node: string, record: LogRecord): ExportMessage {
  const body = {
    format: MESSAGE_FORMAT,
    node,
    seq: record.seq,
    time: rfc3339Nanos(record.time),
    namespace: record.namespace,
    stream: record.stream,
    version: record.version,
    type: record.type,
    schema: record.schema,
    payload: record.payload,
    meta: record.meta,
  };
  return {
    subject: recordSubject(prefix, node, record),
    msgId: messageId(node, record.seq),
    headers: {
      'Content-Type': 'application/json',
      'Ledgerd-Node': node,
      'Ledgerd-Seq': String(record.seq),
      'Ledgerd-Type': record.type,
      'Ledgerd-Schema': String(record.schema),
      'Ledgerd-Format': String(MESSAGE_FORMAT),
    },
    body: Buffer.from(toJson(body)),
  };
}

/** The seq a message of this node carries, from its headers (undefined for another node's). */
export function seqOfMessage(node: string, headers: { get(name: string): string } | undefined): number | undefined {
  if (!headers || headers.get('Ledgerd-Node') !== node) return undefined;
  const seq = Number(headers.get('Ledgerd-Seq'));
  return Number.isSafeInteger(seq) && seq > 0 ? seq : undefined;
}
