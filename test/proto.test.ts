import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import {
  GO_ZERO_TIME_SECONDS,
  PROTO_DIR,
  anyTypeName,
  decodeMessage,
  encodeMessage,
  fromTimestamp,
  messageType,
  packAny,
  protoFileList,
  protoRoot,
  serviceClient,
  serviceDefinition,
  timestamp,
  unpackAny,
} from '../src/api/proto.js';

// ---------------------------------------------------------------------------------------------
// Services and methods

type Kind = 'unary' | 'server' | 'client' | 'bidi';
const u: Kind = 'unary';
const s: Kind = 'server';

/** Every service we serve or call, with every method and its streaming kind. */
const SERVICES: Record<string, Record<string, Kind>> = {
  'containerd.services.containers.v1.Containers': { Get: u, List: u, ListStream: s, Create: u, Update: u, Delete: u },
  'containerd.services.content.v1.Content': {
    Info: u, Update: u, List: s, Delete: u, Read: s, Status: u, ListStatuses: u, Write: 'bidi', Abort: u,
  },
  'containerd.services.diff.v1.Diff': { Apply: u, Diff: u },
  'containerd.services.events.v1.Events': { Publish: u, Forward: u, Subscribe: s },
  'containerd.services.events.ttrpc.v1.Events': { Forward: u },
  'containerd.services.images.v1.Images': { Get: u, List: u, Create: u, Update: u, Delete: u },
  'containerd.services.introspection.v1.Introspection': { Plugins: u, Server: u },
  'containerd.services.leases.v1.Leases': {
    Create: u, Delete: u, List: u, AddResource: u, DeleteResource: u, ListResources: u,
  },
  'containerd.services.namespaces.v1.Namespaces': { Get: u, List: u, Create: u, Update: u, Delete: u },
  'containerd.services.snapshots.v1.Snapshots': {
    Prepare: u, View: u, Mounts: u, Commit: u, Remove: u, Stat: u, Update: u, List: s, Usage: u, Cleanup: u,
  },
  'containerd.services.tasks.v1.Tasks': {
    Create: u, Start: u, Delete: u, DeleteProcess: u, Get: u, List: u, Kill: u, Exec: u, ResizePty: u, CloseIO: u,
    Pause: u, Resume: u, ListPids: u, Checkpoint: u, Update: u, Metrics: u, Wait: u,
  },
  'containerd.services.version.v1.Version': { Version: u },
  'containerd.task.v2.Task': {
    State: u, Create: u, Start: u, Delete: u, Pids: u, Pause: u, Resume: u, Checkpoint: u, Kill: u, Exec: u,
    ResizePty: u, CloseIO: u, Update: u, Wait: u, Stats: u, Connect: u, Shutdown: u,
  },
  'grpc.health.v1.Health': { Check: u, Watch: s },
  'ledgerd.services.log.v1.Log': { Read: s, Head: u, Verify: u, Subscribe: s, State: u, Diff: u },
};

function kindOf(method: { requestStream: boolean; responseStream: boolean }): Kind {
  if (method.requestStream) return method.responseStream ? 'bidi' : 'client';
  return method.responseStream ? 'server' : 'unary';
}

test('every service loads for grpc-js with its methods, paths and streaming kinds', () => {
  for (const [name, methods] of Object.entries(SERVICES)) {
    const definition = serviceDefinition(name);
    assert.deepEqual(Object.keys(definition).sort(), Object.keys(methods).sort(), name);
    for (const [method, kind] of Object.entries(methods)) {
      const m = definition[method]!;
      assert.equal(m.path, `/${name}/${method}`);
      assert.equal(kindOf(m), kind, `${name}/${method}`);
    }
    assert.equal(typeof serviceClient(name), 'function', name);
  }
  assert.throws(() => serviceDefinition('containerd.services.nope.v1.Nope'), /unknown service/);
  assert.throws(() => serviceDefinition('containerd.types.Mount'), /unknown service/);
});

test('request and response types of a few methods', () => {
  const tasks = serviceDefinition('containerd.services.tasks.v1.Tasks');
  const shim = serviceDefinition('containerd.task.v2.Task');
  const types = (svc: string, method: string) => {
    const m = protoRoot.lookupService(svc).methods[method]!;
    m.resolve();
    return [m.resolvedRequestType!.fullName, m.resolvedResponseType!.fullName];
  };
  assert.ok(tasks.Wait && shim.Connect);
  assert.deepEqual(types('.containerd.services.tasks.v1.Tasks', 'DeleteProcess'), [
    '.containerd.services.tasks.v1.DeleteProcessRequest',
    '.containerd.services.tasks.v1.DeleteResponse',
  ]);
  assert.deepEqual(types('.containerd.services.version.v1.Version', 'Version'), [
    '.google.protobuf.Empty',
    '.containerd.services.version.v1.VersionResponse',
  ]);
  assert.deepEqual(types('.ledgerd.services.log.v1.Log', 'Subscribe'), [
    '.ledgerd.services.log.v1.SubscribeRequest',
    '.ledgerd.services.log.v1.SequencedEnvelope',
  ]);
});

test('the proto files carry no gogoproto or containerd plugin options and use proto/-relative imports', () => {
  assert.ok(protoFileList.length >= 30, `only ${protoFileList.length} files`);
  for (const file of protoFileList) {
    const text = readFileSync(join(PROTO_DIR, file), 'utf8');
    const code = text.replace(/\/\/.*$/gm, '');
    assert.doesNotMatch(code, /gogoproto|fieldpath|go_package|github\.com\/|^\s*option\s/m, file);
    assert.match(text, /^syntax = "proto3";$/m, file);
    for (const [, target] of text.matchAll(/^import\s+"([^"]+)";/gm)) {
      if (target!.startsWith('google/protobuf/')) continue;
      assert.ok(existsSync(join(PROTO_DIR, target!)), `${file} imports ${target}`);
    }
  }
  for (const file of [
    'containerd/services/ttrpc/events/v1/events.proto',
    'containerd/types/task/task.proto',
    'containerd/runtime/v2/task/shim.proto',
    'containerd/runtime/v2/runc/options/oci.proto',
    'cgroups/v1/metrics.proto',
    'cgroups/v2/metrics.proto',
    'google/rpc/status.proto',
    'grpc/health/v1/health.proto',
    'ttrpc/ttrpc.proto',
    'ledgerd/services/log/v1/log.proto',
  ]) {
    assert.ok(protoFileList.includes(file), file);
  }
});

// ---------------------------------------------------------------------------------------------
// Wire facts against containerd's own protos

const GOCODE = '/usr/share/gocode/src';
const CONTAINERD = `${GOCODE}/github.com/containerd/containerd`;
const CGROUPS = `${GOCODE}/github.com/containerd/cgroups`;

/** Our file → containerd's (or its dependency's) file. */
const UPSTREAM: Record<string, string> = {
  'containerd/services/containers/v1/containers.proto': `${CONTAINERD}/api/services/containers/v1/containers.proto`,
  'containerd/services/content/v1/content.proto': `${CONTAINERD}/api/services/content/v1/content.proto`,
  'containerd/services/diff/v1/diff.proto': `${CONTAINERD}/api/services/diff/v1/diff.proto`,
  'containerd/services/events/v1/events.proto': `${CONTAINERD}/api/services/events/v1/events.proto`,
  'containerd/services/images/v1/images.proto': `${CONTAINERD}/api/services/images/v1/images.proto`,
  'containerd/services/introspection/v1/introspection.proto': `${CONTAINERD}/api/services/introspection/v1/introspection.proto`,
  'containerd/services/leases/v1/leases.proto': `${CONTAINERD}/api/services/leases/v1/leases.proto`,
  'containerd/services/namespaces/v1/namespace.proto': `${CONTAINERD}/api/services/namespaces/v1/namespace.proto`,
  'containerd/services/snapshots/v1/snapshots.proto': `${CONTAINERD}/api/services/snapshots/v1/snapshots.proto`,
  'containerd/services/tasks/v1/tasks.proto': `${CONTAINERD}/api/services/tasks/v1/tasks.proto`,
  'containerd/services/version/v1/version.proto': `${CONTAINERD}/api/services/version/v1/version.proto`,
  'containerd/services/ttrpc/events/v1/events.proto': `${CONTAINERD}/api/services/ttrpc/events/v1/events.proto`,
  'containerd/types/descriptor.proto': `${CONTAINERD}/api/types/descriptor.proto`,
  'containerd/types/mount.proto': `${CONTAINERD}/api/types/mount.proto`,
  'containerd/types/platform.proto': `${CONTAINERD}/api/types/platform.proto`,
  'containerd/types/metrics.proto': `${CONTAINERD}/api/types/metrics.proto`,
  'containerd/types/task/task.proto': `${CONTAINERD}/api/types/task/task.proto`,
  'containerd/events/container.proto': `${CONTAINERD}/api/events/container.proto`,
  'containerd/events/content.proto': `${CONTAINERD}/api/events/content.proto`,
  'containerd/events/image.proto': `${CONTAINERD}/api/events/image.proto`,
  'containerd/events/namespace.proto': `${CONTAINERD}/api/events/namespace.proto`,
  'containerd/events/snapshot.proto': `${CONTAINERD}/api/events/snapshot.proto`,
  'containerd/events/task.proto': `${CONTAINERD}/api/events/task.proto`,
  'containerd/runtime/v2/task/shim.proto': `${CONTAINERD}/runtime/v2/task/shim.proto`,
  'containerd/runtime/v2/runc/options/oci.proto': `${CONTAINERD}/runtime/v2/runc/options/oci.proto`,
  'cgroups/v1/metrics.proto': `${CGROUPS}/stats/v1/metrics.proto`,
  'cgroups/v2/metrics.proto': `${CGROUPS}/v2/stats/metrics.proto`,
  'google/rpc/status.proto': `${GOCODE}/github.com/gogo/googleapis/google/rpc/status.proto`,
  'grpc/health/v1/health.proto': `${GOCODE}/google.golang.org/grpc/debian/missing-sources/grpc/grpc-proto/master/grpc/health/v1/health.proto`,
};

/** containerd's proto text without gogoproto and fieldpath imports and options, which protobufjs cannot resolve. */
function stripGoOptions(source: string): string {
  return source
    .replace(/^\s*import\s+(?:weak\s+)?"(?:gogoproto\/gogo\.proto|github\.com\/containerd\/containerd\/protobuf\/plugin\/fieldpath\.proto)";[ \t]*$/gm, '')
    .replace(/^\s*option\s+\((?:gogoproto|containerd\.plugin)\.[^;]*;[ \t]*$/gm, '')
    .replace(/\s*\[\s*\((?:gogoproto|containerd\.plugin)\.[^\]]*\]/g, '');
}

function parseInto(root: protobuf.Root, source: string): protobuf.Root {
  protobuf.parse(source, root, { keepCase: true, alternateCommentMode: false });
  return root;
}

/** Every message, enum and service below a namespace, by full name. */
function definitions(ns: protobuf.NamespaceBase, into = new Map<string, protobuf.ReflectionObject>()) {
  for (const nested of ns.nestedArray) {
    if (nested instanceof protobuf.Type || nested instanceof protobuf.Enum || nested instanceof protobuf.Service) {
      into.set(nested.fullName, nested);
    }
    if (nested instanceof protobuf.Namespace) definitions(nested, into);
  }
  return into;
}

function fieldShape(field: protobuf.Field): string {
  field.resolve();
  const type = field.resolvedType ? field.resolvedType.fullName : field.type;
  const map = field instanceof protobuf.MapField ? `map<${field.keyType}, ${type}>` : undefined;
  const rule = field.repeated && !map ? 'repeated ' : field.options?.proto3_optional ? 'optional ' : '';
  return `${field.id}: ${rule}${map ?? type} ${field.name}`;
}

function shape(obj: protobuf.ReflectionObject): string[] {
  if (obj instanceof protobuf.Type) {
    return [
      ...obj.fieldsArray.map(fieldShape).sort(),
      ...obj.oneofsArray.filter((o) => !o.name.startsWith('_')).map((o) => `oneof ${o.name} {${o.oneof.join(',')}}`),
    ];
  }
  if (obj instanceof protobuf.Enum) return Object.entries(obj.values).map(([k, v]) => `${k} = ${v}`);
  if (obj instanceof protobuf.Service) {
    return obj.methodsArray.map((m) => {
      m.resolve();
      const req = `${m.requestStream ? 'stream ' : ''}${m.resolvedRequestType!.fullName}`;
      const res = `${m.responseStream ? 'stream ' : ''}${m.resolvedResponseType!.fullName}`;
      return `${m.name}(${req}) returns (${res})`;
    });
  }
  return [];
}

const COMPARED_PREFIXES = ['.containerd.', '.io.containerd.', '.google.rpc.', '.grpc.health.'];

test('every message, enum and service matches containerd 1.6 (names, numbers, types, streaming)', (t) => {
  if (!existsSync(CONTAINERD) || !existsSync(CGROUPS)) {
    t.skip(`containerd sources not installed under ${GOCODE}`);
    return;
  }
  const theirs = new protobuf.Root();
  // the well-known types, from protobufjs's bundled copies (as on our side)
  theirs.loadSync(['google/protobuf/any.proto', 'google/protobuf/empty.proto', 'google/protobuf/timestamp.proto', 'google/protobuf/field_mask.proto'], { keepCase: true });
  for (const upstream of Object.values(UPSTREAM)) parseInto(theirs, stripGoOptions(readFileSync(upstream, 'utf8')));
  theirs.resolveAll();

  const upstreamDefs = [...definitions(theirs)].filter(([name]) => COMPARED_PREFIXES.some((p) => name.startsWith(p)));
  const ourDefs = [...definitions(protoRoot)].filter(([name]) => COMPARED_PREFIXES.some((p) => name.startsWith(p)));
  assert.ok(upstreamDefs.length > 200, `only ${upstreamDefs.length} upstream definitions`);

  const problems: string[] = [];
  const ours = new Map(ourDefs);
  for (const [name, theirObj] of upstreamDefs) {
    const ourObj = ours.get(name);
    if (!ourObj) {
      problems.push(`missing ${name}`);
      continue;
    }
    if (ourObj.constructor !== theirObj.constructor) problems.push(`${name}: ${ourObj.constructor.name} vs ${theirObj.constructor.name}`);
    try {
      assert.deepEqual(shape(ourObj), shape(theirObj));
    } catch {
      problems.push(`${name}:\n  ours   ${shape(ourObj).join('; ')}\n  theirs ${shape(theirObj).join('; ')}`);
    }
  }
  const upstreamNames = new Set(upstreamDefs.map(([name]) => name));
  for (const [name] of ourDefs) if (!upstreamNames.has(name)) problems.push(`extra ${name} (not in containerd)`);
  assert.deepEqual(problems, []);
});

test('each of our files defines what its containerd counterpart defines, without copying its comments', (t) => {
  if (!existsSync(CONTAINERD) || !existsSync(CGROUPS)) {
    t.skip(`containerd sources not installed under ${GOCODE}`);
    return;
  }
  const names = (source: string) => {
    const parsed = protobuf.parse(source, new protobuf.Root(), { keepCase: true });
    return { pkg: parsed.package, names: [...definitions(parsed.root).keys()].sort() };
  };
  const comments = (source: string) =>
    new Set(
      [...source.matchAll(/\/\/(.*)$/gm)]
        .map(([, c]) => c!.trim())
        .filter((c) => c.length > 25),
    );
  for (const [ours, upstream] of Object.entries(UPSTREAM)) {
    const ourText = readFileSync(join(PROTO_DIR, ours), 'utf8');
    const theirText = readFileSync(upstream, 'utf8');
    assert.deepEqual(names(ourText), names(stripGoOptions(theirText)), ours);
    const theirComments = comments(theirText);
    for (const c of comments(ourText)) assert.ok(!theirComments.has(c), `${ours} copies the comment "${c}"`);
  }
});

test('ttrpc envelope messages match ttrpc 1.1 (types.go struct tags) and encode as hand-built bytes', (t) => {
  // independent of the Go sources: a Request and a Response encoded by hand
  const request = encodeMessage('ttrpc.Request', {
    service: 'a',
    method: 'b',
    payload: Buffer.from([1]),
    timeout_nano: 5,
    metadata: [{ key: 'k', value: 'v' }],
  });
  assert.equal(request.toString('hex'), '0a0161' + '120162' + '1a0101' + '2005' + '2a06' + '0a016b' + '120176');
  const response = encodeMessage('ttrpc.Response', { status: { code: 12, message: 'x' }, payload: Buffer.from([7]) });
  assert.equal(response.toString('hex'), '0a05' + '080c' + '120178' + '120107');
  assert.deepEqual(decodeMessage('ttrpc.Response', Buffer.from('120107', 'hex')), { status: null, payload: Buffer.from([7]) });
  assert.equal(encodeMessage('ttrpc.Request', { timeout_nano: -1 }).toString('hex'), '20ffffffffffffffffff01');

  const typesGo = `${GOCODE}/github.com/containerd/ttrpc/types.go`;
  if (!existsSync(typesGo)) {
    t.skip(`${typesGo} not installed`);
    return;
  }
  const go = readFileSync(typesGo, 'utf8');
  const structs = [...go.matchAll(/type (\w+) struct \{([^}]*)\}/g)];
  assert.ok(structs.length >= 3);
  for (const [, name, body] of structs) {
    const ours = messageType(`ttrpc.${name}`);
    const tags = [...body!.matchAll(/protobuf:"(\w+),(\d+),(opt|rep),name=(\w+)/g)];
    assert.equal(ours.fieldsArray.length, tags.length, name);
    for (const [, wire, id, rule, fieldName] of tags) {
      const field = ours.fields[fieldName!];
      assert.ok(field, `${name}.${fieldName}`);
      assert.equal(field.id, Number(id), `${name}.${fieldName}`);
      assert.equal(field.repeated, rule === 'rep', `${name}.${fieldName}`);
      field.resolve();
      const lengthDelimited = field.resolvedType !== null || field.type === 'string' || field.type === 'bytes';
      assert.equal(lengthDelimited, wire === 'bytes', `${name}.${fieldName} wire type`);
    }
  }
});

test('ledgerd Log messages have the agreed field numbers', () => {
  const fields = (name: string) =>
    messageType(name).fieldsArray.map((f) => `${f.id}:${f.repeated ? 'repeated ' : ''}${f.type} ${f.name}`);
  assert.deepEqual(fields('ledgerd.services.log.v1.ReadRequest'), ['1:uint64 from_seq', '2:uint64 to_seq', '3:repeated string filters', '4:bool follow']);
  assert.deepEqual(fields('ledgerd.services.log.v1.LogRecord'), [
    '1:uint64 seq', '2:google.protobuf.Timestamp time', '3:string namespace', '4:string stream', '5:uint64 version',
    '6:string type', '7:uint32 schema', '8:string topic', '9:string payload_json', '10:string meta_json',
  ]);
  assert.deepEqual(fields('ledgerd.services.log.v1.HeadResponse'), ['1:uint64 seq', '2:uint64 first_seq']);
  assert.deepEqual(fields('ledgerd.services.log.v1.VerifyResponse'), ['1:bool ok', '2:uint64 records', '3:uint64 head', '4:repeated string problems']);
  assert.deepEqual(fields('ledgerd.services.log.v1.SubscribeRequest'), ['1:uint64 from_seq', '2:repeated string filters']);
  assert.deepEqual(fields('ledgerd.services.log.v1.SequencedEnvelope'), ['1:uint64 seq', '2:containerd.services.events.v1.Envelope envelope']);
});

test('a few wire facts that are easy to get wrong', () => {
  assert.equal(messageType('containerd.services.diff.v1.DiffResponse').fields.diff!.id, 3);
  assert.equal(messageType('containerd.types.Descriptor').fields.annotations!.id, 5);
  assert.equal(messageType('containerd.services.images.v1.Image').fields.created_at!.id, 7);
  assert.equal(messageType('containerd.services.tasks.v1.CreateTaskRequest').fields.rootfs!.id, 3);
  assert.equal(messageType('containerd.services.leases.v1.CreateRequest').fields.labels!.id, 3);
  assert.ok(messageType('containerd.v1.types.Process'));
  assert.ok(messageType('containerd.services.images.v1.ImageCreate'));
  assert.throws(() => messageType('containerd.events.ImageCreate'), /unknown message type/);
  assert.throws(() => messageType('Process'), /unknown message type/);
  assert.equal(messageType('io.containerd.cgroups.v2.Metrics').fields.memory!.id, 4);
  // enums decode to their names
  assert.deepEqual(decodeMessage('containerd.v1.types.Process', encodeMessage('containerd.v1.types.Process', { status: 'RUNNING', pid: 7 })), {
    container_id: '', id: '', pid: 7, status: 'RUNNING', stdin: '', stdout: '', stderr: '', terminal: false, exit_status: 0, exited_at: null,
  });
});

// ---------------------------------------------------------------------------------------------
// Any

test('packAny / unpackAny round-trip with containerd type URLs', () => {
  const exit = { container_id: 'c1', id: 'c1', pid: 42, exit_status: 3, exited_at: timestamp(1_700_000_000_123_456_789n) };
  const any = packAny('containerd.events.TaskExit', exit);
  assert.equal(any.type_url, 'containerd.events.TaskExit');
  assert.ok(Buffer.isBuffer(any.value));
  assert.deepEqual(unpackAny(any), exit);
  // the prefixed form reads the same
  assert.deepEqual(unpackAny({ type_url: `type.googleapis.com/${any.type_url}`, value: any.value }), exit);
  assert.equal(anyTypeName('type.googleapis.com/containerd.events.TaskExit'), 'containerd.events.TaskExit');

  // the images events live in the images service's package
  const created = packAny('containerd.services.images.v1.ImageCreate', { name: 'docker.io/library/alpine:latest', labels: { a: 'b' } });
  assert.deepEqual(unpackAny(created), { name: 'docker.io/library/alpine:latest', labels: { a: 'b' } });

  // unknown, partial or non-protobuf types: undefined
  assert.equal(unpackAny({ type_url: 'my.Type', value: Buffer.from('x') }), undefined);
  assert.equal(unpackAny({ type_url: 'TaskExit', value: any.value }), undefined);
  assert.equal(unpackAny({ type_url: 'types.containerd.io/opencontainers/runtime-spec/1/Spec', value: Buffer.from('{}') }), undefined);
  assert.equal(unpackAny({ type_url: 'containerd.task.v2.Task', value: Buffer.alloc(0) }), undefined);
  assert.equal(unpackAny({ type_url: 'containerd.events.TaskExit', value: Buffer.from([0x0f]) }), undefined);
  assert.equal(unpackAny(undefined), undefined);
  assert.equal(unpackAny(null), undefined);
  assert.equal(unpackAny({ type_url: '', value: Buffer.alloc(0) }), undefined);

  // Any inside a message: an envelope carrying the packed event
  const envelope = { timestamp: timestamp(5_000_000_001n), namespace: 'default', topic: '/tasks/exit', event: any };
  const decoded = decodeMessage('containerd.services.events.v1.Envelope', encodeMessage('containerd.services.events.v1.Envelope', envelope));
  assert.deepEqual(decoded, { ...envelope, event: { type_url: any.type_url, value: Buffer.from(any.value) } });
  // the ttrpc envelope has the same bytes
  assert.deepEqual(
    encodeMessage('containerd.services.events.ttrpc.v1.Envelope', envelope),
    encodeMessage('containerd.services.events.v1.Envelope', envelope),
  );
});

// ---------------------------------------------------------------------------------------------
// Timestamps

test('timestamps round-trip, with Go zero time as "unset"', () => {
  for (const ns of [1n, 999_999_999n, 1_000_000_000n, 1_700_000_000_123_456_789n, -1n, -1_500_000_000n, 253_402_300_799_999_999_999n]) {
    const ts = timestamp(ns);
    assert.ok(ts.nanos >= 0 && ts.nanos < 1e9, `nanos of ${ns}`);
    assert.equal(fromTimestamp(ts), ns);
    const wire = decodeMessage('google.protobuf.Timestamp', encodeMessage('google.protobuf.Timestamp', { ...ts }));
    assert.deepEqual(wire, ts);
    assert.equal(fromTimestamp(wire as { seconds: number; nanos: number }), ns);
  }
  assert.deepEqual(timestamp(-1n), { seconds: -1, nanos: 999_999_999 });
  assert.deepEqual(timestamp(new Date('2024-01-02T03:04:05.678Z')), { seconds: 1704164645, nanos: 678_000_000 });
  assert.equal(fromTimestamp(timestamp(new Date(1704164645678))), 1704164645678_000_000n);

  // unset → Go's zero time (0001-01-01T00:00:00Z) on the wire, and back to undefined
  const zero = { seconds: GO_ZERO_TIME_SECONDS, nanos: 0 };
  assert.equal(new Date(GO_ZERO_TIME_SECONDS * 1000).toISOString(), '0001-01-01T00:00:00.000Z');
  assert.deepEqual(timestamp(undefined), zero);
  assert.deepEqual(timestamp(null), zero);
  assert.deepEqual(timestamp(0n), zero);
  assert.deepEqual(timestamp(new Date(Number.NaN)), zero);
  assert.equal(fromTimestamp(zero), undefined);
  assert.equal(fromTimestamp(undefined), undefined);
  assert.equal(fromTimestamp(null), undefined);
  // a present epoch is a real time, as in Go
  assert.equal(fromTimestamp({ seconds: 0, nanos: 0 }), 0n);
  assert.equal(fromTimestamp({ seconds: '12', nanos: 3 }), 12_000_000_003n);
  // an absent Timestamp field decodes as null
  const wait = decodeMessage('containerd.services.tasks.v1.WaitResponse', Buffer.from([0x08, 0x03]));
  assert.deepEqual(wait, { exit_status: 3, exited_at: null });
  assert.equal(fromTimestamp(wait.exited_at as null), undefined);
  const withZero = decodeMessage('containerd.services.tasks.v1.WaitResponse', encodeMessage('containerd.services.tasks.v1.WaitResponse', { exit_status: 0, exited_at: timestamp(undefined) }));
  assert.deepEqual(withZero, { exit_status: 0, exited_at: zero });
});

// ---------------------------------------------------------------------------------------------
// Over the wire with grpc-js

test('grpc-js server and client built from the definitions talk with proto field names', async (t) => {
  const server = new grpc.Server();
  t.after(() => server.forceShutdown());
  server.addService(serviceDefinition('containerd.services.version.v1.Version'), {
    Version: (_call: unknown, callback: grpc.sendUnaryData<unknown>) => callback(null, { version: '1.6.20~ds1', revision: 'r' }),
  });
  server.addService(serviceDefinition('containerd.services.events.v1.Events'), {
    Subscribe: (call: grpc.ServerWritableStream<{ filters: string[] }, unknown>) => {
      call.write({
        timestamp: timestamp(7n),
        namespace: 'default',
        topic: call.request.filters.join(','),
        event: packAny('containerd.events.TaskOOM', { container_id: 'c' }),
      });
      call.end();
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  const credentials = grpc.credentials.createInsecure();
  type Ctor = new (address: string, creds: grpc.ChannelCredentials) => grpc.Client & Record<string, (...args: unknown[]) => unknown>;
  const Version = serviceClient('containerd.services.version.v1.Version') as unknown as Ctor;
  const version = new Version(`127.0.0.1:${port}`, credentials);
  t.after(() => version.close());
  const answer = await new Promise((resolve, reject) => version.Version!({}, (err: Error | null, res: unknown) => (err ? reject(err) : resolve(res))));
  assert.deepEqual(answer, { version: '1.6.20~ds1', revision: 'r' });

  const Events = serviceClient('containerd.services.events.v1.Events') as unknown as Ctor;
  const events = new Events(`127.0.0.1:${port}`, credentials);
  t.after(() => events.close());
  const stream = events.Subscribe!({ filters: ['topic=="/tasks/oom"'] }) as grpc.ClientReadableStream<Record<string, unknown>>;
  const received: Record<string, unknown>[] = [];
  stream.on('data', (d) => received.push(d));
  await once(stream, 'end');
  assert.equal(received.length, 1);
  const envelope = received[0]!;
  assert.deepEqual(envelope.timestamp, { seconds: 0, nanos: 7 });
  assert.equal(envelope.topic, 'topic=="/tasks/oom"');
  assert.deepEqual(unpackAny(envelope.event as { type_url: string; value: Uint8Array }), { container_id: 'c' });
});
