// A seeded gRPC fuzzer over every method of every service the daemon serves. Each call's answer
// must be a proper status; the daemon must stay up and writable; a refused call must have left
// nothing in the log (its x-request-id appears in no record).
import { randomUUID } from 'node:crypto';
import { Client, credentials, Metadata, status, type CallOptions, type ServiceError } from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { protoRoot } from '../../src/api/proto.js';
import { SERVICES, NAMESPACE_HEADER } from '../../src/api/services.js';
import { MessageGenerator, Random } from './values.js';

/** What the daemon serves on its socket: containerd's services, ledgerd's own, CRI's. */
export const FUZZED_SERVICES = [...Object.values(SERVICES), 'runtime.v1.RuntimeService', 'runtime.v1.ImageService'];

/** Methods that may rightly wait for ever (a stream of events, a process's exit): their deadline is not a hang. */
const MAY_BLOCK = new Set(['Events/Subscribe', 'Log/Subscribe', 'Log/Read', 'Tasks/Wait', 'Health/Watch', 'RuntimeService/GetContainerEvents']);
/**
 * Methods whose refusal may follow a recorded effect, as containerd's do: Content.Write opens the
 * ingest before it checks an offset, and answers AlreadyExists after leasing the existing blob.
 */
const ACTS_BEFORE_REFUSING = new Set(['Content/Write']);
/** Codes a daemon may answer bad or unlucky input with. */
const PROPER = new Set([
  status.OK,
  status.INVALID_ARGUMENT,
  status.NOT_FOUND,
  status.ALREADY_EXISTS,
  status.FAILED_PRECONDITION,
  status.OUT_OF_RANGE,
  status.UNIMPLEMENTED,
  status.ABORTED,
  status.RESOURCE_EXHAUSTED,
]);
/** How long an answer may take before it counts as a hang. */
const ANSWER_MS = 20_000;

export interface FuzzOptions {
  readonly address: string;
  readonly seed: number;
  readonly seconds: number;
  readonly concurrency?: number;
  /** Whether the daemon is still running (a crash is a failure). */
  readonly alive?: () => boolean;
  readonly progress?: (line: string) => void;
}

export interface FuzzReport {
  readonly seed: number;
  readonly calls: number;
  readonly byCode: Record<string, number>;
  readonly probes: number;
  /** Connections the daemon closed for resetting streams too fast (see reconnect), each followed by a new one. */
  readonly sessionsClosedByServer: number;
  readonly failures: string[];
}

interface Method {
  readonly service: string;
  readonly name: string;
  readonly path: string;
  readonly short: string;
  readonly request: protobuf.Type;
  readonly clientStream: boolean;
  readonly serverStream: boolean;
}

export function fuzzedMethods(): Method[] {
  return FUZZED_SERVICES.flatMap((serviceName) => {
    const service = protoRoot.lookupService(serviceName);
    return service.methodsArray.map((m) => {
      m.resolve();
      const simple = serviceName.slice(serviceName.lastIndexOf('.') + 1);
      return {
        service: serviceName,
        name: m.name,
        path: `/${serviceName}/${m.name}`,
        short: `${simple}/${m.name}`,
        request: m.resolvedRequestType!,
        clientStream: Boolean(m.requestStream),
        serverStream: Boolean(m.responseStream),
      };
    });
  });
}

interface Outcome {
  readonly code: status;
  readonly details: string;
}

const identity = (b: Buffer) => b;

export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const random = new Random(options.seed);
  const generate = new MessageGenerator(random);
  const methods = fuzzedMethods();
  const connect = () =>
    new Client(`unix://${options.address}`, credentials.createInsecure(), {
      'grpc.max_receive_message_length': 64 << 20,
      'grpc.max_send_message_length': 64 << 20,
    });
  let client = connect();
  const failures: string[] = [];
  const byCode: Record<string, number> = {};
  const refused = new Map<string, string>();
  const recorded = new Map<string, number>();
  const end = Date.now() + options.seconds * 1000;
  let calls = 0;
  let probes = 0;
  let sessionsClosedByServer = 0;

  const fail = (what: string) => {
    failures.push(what);
    options.progress?.(`FAIL ${what}`);
  };
  // the follower of one connection: on the server's reset limit it moves to the next connection
  const follow = (from: number): Follower =>
    followRequestIds(client, recorded, from, (err) => (SESSION_CLOSED_BY_SERVER.test(err) ? reconnect(followerClient) : fail(`the log's follower failed: ${err}`)));
  let followerClient = client;
  let follower = follow(1);
  /**
   * node's HTTP/2 server (nghttp2 >= 1.57, the rapid-reset defence of CVE-2023-44487) ends a
   * connection whose client has reset streams faster than 33/s after a burst of 1000, with a GOAWAY
   * INTERNAL_ERROR; the fuzzer's cancellations and 1 ms deadlines do that within minutes. A real
   * client never does, the daemon is not at fault, so the fuzzer counts it and connects again.
   */
  const reconnect = (closed: Client) => {
    if (closed !== client) return;
    sessionsClosedByServer++;
    options.progress?.(`the daemon closed the connection after too many stream resets (${sessionsClosedByServer}); connecting again`);
    const seen = follower.seen();
    follower.cancel();
    closed.close();
    client = connect();
    followerClient = client;
    follower = follow(seen + 1);
  };

  const one = async () => {
    const method = random.pick(methods);
    const requestId = randomUUID();
    const metadata = fuzzMetadata(random, requestId);
    const mode = random.pick(['normal', 'normal', 'normal', 'normal', 'normal', 'normal', 'deadline', 'cancel'] as const);
    const body = requestBody(random, generate, method.request);
    const bodies = method.clientStream ? Array.from({ length: random.int(4) }, () => requestBody(random, generate, method.request)) : [body];
    const label = `${method.short} [${mode}] (request id ${requestId})`;
    const used = client;
    const outcome = await invoke(used, method, bodies, metadata, mode, random);
    calls++;
    if (SESSION_CLOSED_BY_SERVER.test(outcome.details)) {
      reconnect(used);
      return;
    }
    const name = status[outcome.code] ?? String(outcome.code);
    byCode[name] = (byCode[name] ?? 0) + 1;
    if (outcome.code === status.CANCELLED && mode === 'cancel') return;
    if (outcome.code === status.DEADLINE_EXCEEDED && (mode === 'deadline' || MAY_BLOCK.has(method.short))) return;
    // Unavailable is proper (a ref locked, a registry out of reach) unless the daemon is gone
    const daemonGone = outcome.code === status.UNAVAILABLE && (/No connection established|Connection dropped/.test(outcome.details) || options.alive?.() === false);
    if (!PROPER.has(outcome.code) && !(outcome.code === status.UNAVAILABLE && !daemonGone)) {
      fail(`${label}: ${name}: ${outcome.details.slice(0, 300)}`);
    }
    // a stream of several requests is several actions: an early one may stand when a later one is
    // refused; and Content.Write opens its ingest (containerd's protocol) before it checks the offset
    if (outcome.code !== status.OK && bodies.length <= 1 && !ACTS_BEFORE_REFUSING.has(method.short)) refused.set(requestId, `${label}: ${name}`);
  };

  const probe = async () => {
    probes++;
    if (options.alive && !options.alive()) throw new Error('the daemon is gone');
    const name = `fuzz-probe-${probes}`;
    let used = client;
    let writable = await probeWrite(used, name);
    if (writable && SESSION_CLOSED_BY_SERVER.test(writable)) {
      reconnect(used);
      used = client;
      writable = await probeWrite(used, `${name}-again`);
    }
    if (writable) fail(`the daemon is not writable: ${writable}`);
    used = client;
    await settleFollower(used, () => follower).catch((err: Error) => {
      if (!SESSION_CLOSED_BY_SERVER.test(err.message)) throw err;
      reconnect(used);
      return settleFollower(client, () => follower);
    });
    for (const [id, label] of refused) {
      if (recorded.has(id)) fail(`${label} was refused, yet record ${recorded.get(id)} of the log carries its request id`);
    }
    refused.clear();
  };

  const running = () => Date.now() < end && failures.length < 50;
  const worker = async () => {
    while (running()) await one();
  };
  // probes run beside the fuzzing: the daemon must stay writable while it is being hit
  const prober = async () => {
    while (running()) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(5000, Math.max(0, end - Date.now()))));
      await probe();
      options.progress?.(`${calls} calls, ${probes} probes, ${failures.length} failures: ${JSON.stringify(byCode)}`);
    }
  };
  try {
    await Promise.all([prober(), ...Array.from({ length: options.concurrency ?? 4 }, worker)]);
    await probe();
  } catch (err) {
    failures.push(String(err));
  } finally {
    follower.cancel();
    client.close();
  }
  return { seed: options.seed, calls, byCode, probes, sessionsClosedByServer, failures };
}

/** What grpc-js says of the calls in flight when the server ends their connection with GOAWAY INTERNAL_ERROR. */
const SESSION_CLOSED_BY_SERVER = /Session closed with error code 2\b/;

function fuzzMetadata(random: Random, requestId: string): Metadata {
  const metadata = new Metadata();
  metadata.set('x-request-id', requestId);
  const namespace = random.pick(['fuzz', 'fuzz', 'fuzz', 'fuzz', 'fuzz', 'default', undefined, '', 'bad ns', 'x'.repeat(100), '..']);
  if (namespace !== undefined) metadata.set(NAMESPACE_HEADER, namespace);
  if (random.chance(0.05)) metadata.set('containerd-lease', random.pick(['fuzz-lease', '', 'nope']));
  if (random.chance(0.05)) metadata.set('ledgerd-from-seq', random.pick(['1', '-1', 'abc', '99999999999999999999']));
  return metadata;
}

function requestBody(random: Random, generate: MessageGenerator, type: protobuf.Type): Buffer {
  const roll = random.next();
  if (roll < 0.08) return random.bytes(random.int(64));
  if (roll < 0.12) return Buffer.alloc(0);
  try {
    const message = generate.message(type);
    return Buffer.from(type.encode(type.fromObject(message)).finish());
  } catch {
    return random.bytes(8);
  }
}

type Mode = 'normal' | 'deadline' | 'cancel';

function invoke(client: Client, method: Method, bodies: Buffer[], metadata: Metadata, mode: Mode, random: Random): Promise<Outcome> {
  const options: CallOptions = { deadline: Date.now() + (mode === 'deadline' ? 1 : MAY_BLOCK.has(method.short) ? 300 : ANSWER_MS) };
  return new Promise((resolve) => {
    let done = false;
    const finish = (code: status, details: string) => {
      if (done) return;
      done = true;
      resolve({ code, details });
    };
    const onError = (err: ServiceError | null) => (err ? finish(err.code, err.details ?? err.message) : finish(status.OK, ''));
    let call: { cancel(): void };
    if (!method.clientStream && !method.serverStream) {
      call = client.makeUnaryRequest(method.path, identity, identity, bodies[0]!, metadata, options, onError);
    } else if (!method.clientStream) {
      const stream = client.makeServerStreamRequest(method.path, identity, identity, bodies[0]!, metadata, options);
      stream.on('data', () => undefined);
      stream.on('error', (err: ServiceError) => onError(err));
      stream.on('status', (s: { code: status; details: string }) => finish(s.code, s.details));
      call = stream;
    } else {
      const stream = method.serverStream
        ? client.makeBidiStreamRequest(method.path, identity, identity, metadata, options)
        : client.makeClientStreamRequest(method.path, identity, identity, metadata, options, onError);
      stream.on('data', () => undefined);
      stream.on('error', (err: ServiceError) => onError(err));
      stream.on('status', (s: { code: status; details: string }) => finish(s.code, s.details));
      for (const body of bodies) stream.write(body);
      if (mode !== 'cancel' || random.chance(0.5)) stream.end();
      call = stream;
    }
    if (mode === 'cancel') {
      const cancel = () => call.cancel();
      const when = random.int(3);
      if (when === 0) queueMicrotask(cancel);
      else if (when === 1) setImmediate(cancel);
      else setTimeout(cancel, random.int(20));
    }
  });
}

/** Creates and deletes a namespace: both must answer OK in time. Returns what went wrong, if anything. */
async function probeWrite(client: Client, name: string): Promise<string | undefined> {
  const NS = protoRoot.lookupType('containerd.services.namespaces.v1.CreateNamespaceRequest');
  const DEL = protoRoot.lookupType('containerd.services.namespaces.v1.DeleteNamespaceRequest');
  const unary = (method: string, body: Uint8Array) =>
    new Promise<string | undefined>((resolve) => {
      const metadata = new Metadata();
      client.makeUnaryRequest(`/${SERVICES.namespaces}/${method}`, identity, identity, Buffer.from(body), metadata, { deadline: Date.now() + ANSWER_MS }, (err) =>
        resolve(err ? `${method} ${name}: ${status[err.code]} ${err.details}` : undefined),
      );
    });
  return (
    (await unary('Create', NS.encode(NS.fromObject({ namespace: { name, labels: { probe: 'yes' } } })).finish())) ??
    (await unary('Delete', DEL.encode(DEL.fromObject({ name })).finish()))
  );
}

const READ = () => protoRoot.lookupType('ledgerd.services.log.v1.ReadRequest');
const RECORD = () => protoRoot.lookupType('ledgerd.services.log.v1.LogRecord');

interface Follower {
  cancel(): void;
  /** The newest seq seen. */
  seen(): number;
}

/** Follows the whole log and notes which request ids its records carry. */
function followRequestIds(client: Client, recorded: Map<string, number>, fromSeq: number, onError: (err: string) => void): Follower {
  let followedSeq = fromSeq - 1;
  const request = Buffer.from(READ().encode(READ().fromObject({ from_seq: fromSeq, follow: true })).finish());
  const stream = client.makeServerStreamRequest(`/${SERVICES.log}/Read`, identity, identity, request, new Metadata(), {});
  const type = RECORD();
  stream.on('data', (bytes: Buffer) => {
    const record = type.toObject(type.decode(bytes), { longs: Number }) as { seq: number; meta_json: string };
    const meta = JSON.parse(record.meta_json || '{}') as { requestId?: string };
    if (meta.requestId) recorded.set(meta.requestId, record.seq);
    followedSeq = Math.max(followedSeq, record.seq);
  });
  stream.on('error', (err: ServiceError) => {
    if (err.code !== status.CANCELLED) onError(`${status[err.code]} ${err.details}`);
  });
  return { cancel: () => stream.cancel(), seen: () => followedSeq };
}

/** Waits until the follower has seen the log's head (so a refused call's record would be known). */
async function settleFollower(client: Client, current: () => Follower): Promise<void> {
  const HEAD_REPLY = protoRoot.lookupType('ledgerd.services.log.v1.HeadResponse');
  const head = await new Promise<number>((resolve, reject) =>
    client.makeUnaryRequest(`/${SERVICES.log}/Head`, identity, identity, Buffer.alloc(0), new Metadata(), { deadline: Date.now() + ANSWER_MS }, (err, reply) =>
      err ? reject(new Error(`Log/Head: ${err.details}`)) : resolve(Number((HEAD_REPLY.toObject(HEAD_REPLY.decode(reply!), { longs: Number }) as { seq: number }).seq)),
    ),
  );
  const deadline = Date.now() + ANSWER_MS;
  while (current().seen() < head) {
    if (Date.now() > deadline) throw new Error(`the log follower stopped at ${current().seen()}, head ${head}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
