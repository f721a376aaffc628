// Tracing as containerd 1.6 configures it, against an OTLP/HTTP receiver of the test's own: the
// daemon sends a real `ctr run --rm` as one trace (calls grouped by the container they name, since
// ctr 1.6 sends no trace context), with the command, log append and shim call spans under the gRPC
// spans, and the log records carry the trace id. A client's W3C traceparent is honoured.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { LEDGERCTL, startTestDaemon } from '../helpers/daemon.js';
import { ctrAt, skipWithoutCtr } from '../helpers/ctr.js';
import { pullBusybox, skipWithoutRegistry } from '../helpers/busybox-image.js';
import { SPAN_KIND, startOtlpGrpcReceiver, startOtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver.js';
import { tempDir } from '../helpers/tmp.js';
import { SERVICES } from '../../src/api/services.js';

const run = promisify(execFile);
/** runc's state is per namespace on the whole machine: a namespace of this run's own. */
const NAMESPACE = `tracing-${process.pid}`;
const CONTAINER = 'traced';
const skip = skipWithoutCtr || skipWithoutRegistry || (!existsSync('/usr/sbin/runc') && !existsSync('/usr/bin/runc') && 'runc is not installed');

const CONTAINERS = 'containerd.services.containers.v1.Containers';
const TASKS = 'containerd.services.tasks.v1.Tasks';
const SNAPSHOTS = 'containerd.services.snapshots.v1.Snapshots';
const SHIM_TASK = 'containerd.task.v2.Task';

function tracingConfig(dir: string, endpoint: string, protocol = 'http/protobuf', more = ''): string {
  const path = join(dir, 'config.toml');
  writeFileSync(
    path,
    `version = 2
[plugins."io.containerd.tracing.processor.v1.otlp"]
  endpoint = "${endpoint}"
  protocol = "${protocol}"
${more}
[plugins."io.containerd.internal.v1.tracing"]
  service_name = "ledgerd-test"
  sampling_ratio = 1.0
`,
  );
  return path;
}

/** The one span named `name` in `spans`. */
function only(spans: readonly ReceivedSpan[], name: string): ReceivedSpan {
  const found = spans.filter((s) => s.name === name);
  assert.equal(found.length, 1, `one span ${name}; the trace has ${spans.map((s) => s.name).join(', ')}`);
  return found[0]!;
}

interface ShownRecord {
  readonly type: string;
  readonly meta: Record<string, unknown>;
}

/** `ledgerctl log show` with these filters (alternatives), one record a line. */
async function logShow(address: string, ...filters: string[]): Promise<ShownRecord[]> {
  const { stdout } = await run(process.execPath, [LEDGERCTL, '--address', address, 'log', 'show', ...filters.flatMap((f) => ['--filter', f])]);
  return stdout.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as ShownRecord);
}

const childrenOf = (spans: readonly ReceivedSpan[], parent: ReceivedSpan) => spans.filter((s) => s.parentSpanId === parent.spanId);

test('a ctr run --rm reaches the OTLP receiver as one tree, and its log records carry the trace id', { skip }, async (t) => {
  const dir = tempDir(t);
  const receiver = await startOtlpReceiver(t);
  const daemon = await startTestDaemon(t, { args: ['-c', tracingConfig(dir, receiver.endpoint)] });
  const image = await pullBusybox(t, daemon.address, NAMESPACE);
  const { stdout } = await run('ctr', ['--address', daemon.address, '-n', NAMESPACE, 'run', '--rm', image, CONTAINER, 'echo', 'hi']);
  assert.equal(stdout, 'hi\n');

  const records = await logShow(daemon.address, `stream==containers/${CONTAINER}`, `stream==tasks/${CONTAINER}`);
  const created = records.find((r) => r.type === 'ContainerCreated');
  assert.ok(created, `a ContainerCreated record among ${records.map((r) => r.type).join(', ')}`);
  assert.match(String(created.meta.traceId), /^[0-9a-f]{32}$/);
  assert.match(String(created.meta.spanId), /^[0-9a-f]{16}$/);
  // every record of the run, the shim's reports of start and exit too, is in the run's trace
  for (const type of ['TaskCreated', 'TaskStarted', 'TaskExited', 'TaskDeleted', 'ContainerDeleted']) {
    const record = records.find((r) => r.type === type);
    assert.equal(record?.meta.traceId, created.meta.traceId, `${type} is in the run's trace`);
  }

  // ledgerctl log show --trace: the records the run wrote, and no others
  const { stdout: inTrace } = await run(process.execPath, [LEDGERCTL, '--address', daemon.address, 'log', 'show', '--trace', String(created.meta.traceId)]);
  const traced = inTrace.trim().split('\n').map((line) => JSON.parse(line) as ShownRecord);
  assert.deepEqual(new Set(traced.map((r) => r.type)), new Set(['SnapshotPrepared', 'ContainerCreated', 'TaskCreated', 'TaskStarted', 'TaskExited', 'TaskDeleted', 'SnapshotRemoved', 'ContainerDeleted']));

  // a client that sends W3C trace context keeps its own trace, grouping or not
  const sentTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
  const sentSpan = '00f067aa0ba902b7';
  const connection = daemon.connect(NAMESPACE);
  await assert.rejects(connection.unary(SERVICES.containers, 'Get', { id: CONTAINER }, { traceparent: `00-${sentTrace}-${sentSpan}-01` }), /not found/);
  await connection.unary(SERVICES.namespaces, 'Create', { namespace: { name: `${NAMESPACE}-sent`, labels: {} } }, { traceparent: `00-${sentTrace}-${sentSpan}-01` });
  const [namespaceCreated] = await logShow(daemon.address, 'type==NamespaceCreated');
  assert.equal(namespaceCreated?.meta.traceId, sentTrace);

  // stopping the daemon flushes the spans it still holds
  assert.equal(await daemon.stop(), 0);
  const traceId = String(created.meta.traceId);
  const trace = receiver.spans.filter((s) => s.traceId === traceId);
  assert.deepEqual(receiver.rejected, []);

  // one tree: a single root, every other span's parent in the trace
  const ids = new Set(trace.map((s) => s.spanId));
  const roots = trace.filter((s) => s.parentSpanId === '');
  assert.deepEqual(roots.map((s) => s.name), [`${SNAPSHOTS}/Prepare`], 'the container snapshot\'s Prepare is the root');
  for (const span of trace) assert.ok(span.parentSpanId === '' || ids.has(span.parentSpanId), `${span.name}'s parent is in the trace`);
  const [root] = roots;
  assert.equal(root!.resource['service.name'], 'ledgerd-test');

  // every gRPC call of the run that names the container is a server span under the root
  for (const method of [`${CONTAINERS}/Create`, `${TASKS}/Create`, `${TASKS}/Start`, `${TASKS}/Wait`, `${TASKS}/Delete`, `${CONTAINERS}/Delete`, `${SNAPSHOTS}/Remove`]) {
    const span = only(trace, method);
    assert.equal(span.kind, SPAN_KIND.server, `${method} is a server span`);
    assert.equal(span.parentSpanId, root!.spanId, `${method} is a child of the root`);
    assert.equal(span.attributes['rpc.system'], 'grpc');
    assert.equal(span.attributes['rpc.grpc.status_code'], 0);
    assert.equal(span.attributes['containerd.namespace'], NAMESPACE);
    assert.equal(span.attributes['ledgerd.trace_group'], `${NAMESPACE}/${CONTAINER}`);
  }

  // the command under Containers.Create, the append under the command; the record names the command
  const createCall = only(trace, `${CONTAINERS}/Create`);
  const [command, ...moreCommands] = childrenOf(trace, createCall).filter((s) => s.name === 'decide-and-append');
  assert.ok(command && moreCommands.length === 0, 'one decide-and-append under Containers.Create');
  assert.deepEqual(command.attributes['ledgerd.event_types'], ['ContainerCreated']);
  assert.equal(created.meta.spanId, command.spanId, 'the record links to the command that appended it');
  const [append] = childrenOf(trace, command).filter((s) => s.name === 'log.append');
  assert.ok(append, 'a log.append under the command');
  assert.equal(append.attributes['ledgerd.log.records'], 1);
  assert.ok(Number(append.attributes['ledgerd.log.last_seq']) >= 1);

  // the shim's reports, recorded in the run's trace
  for (const kind of ['start', 'exit']) {
    const report = only(trace, `shim report ${kind}`);
    assert.equal(report.parentSpanId, root!.spanId);
    assert.equal(report.attributes['containerd.container.id'], CONTAINER);
  }

  // the calls that sent trace context: children of the client's span, in the client's trace
  const sent = receiver.spans.filter((s) => s.traceId === sentTrace);
  assert.deepEqual(sent.filter((s) => s.parentSpanId === sentSpan).map((s) => [s.name, s.statusCode]).sort(), [
    [`${CONTAINERS}/Get`, 2],
    ['containerd.services.namespaces.v1.Namespaces/Create', 0],
  ]);
  assert.equal(only(sent, `${CONTAINERS}/Get`).attributes['rpc.grpc.status_code'], 5);

  // the daemon's ttrpc calls to the shim: client spans under the task's gRPC calls
  for (const [call, shimCall] of [
    [`${TASKS}/Create`, `${SHIM_TASK}/Create`],
    [`${TASKS}/Start`, `${SHIM_TASK}/Start`],
  ] as const) {
    const shim = trace.filter((s) => s.name === shimCall);
    assert.ok(shim.length >= 1, `a ${shimCall} span`);
    const parents = new Map(trace.map((s) => [s.spanId, s]));
    const ancestry = (span: ReceivedSpan): string[] => (span.parentSpanId ? [parents.get(span.parentSpanId)!.name, ...ancestry(parents.get(span.parentSpanId)!)] : []);
    assert.ok(shim.some((s) => s.kind === SPAN_KIND.client && ancestry(s).includes(call)), `${shimCall} under ${call}: ${shim.map((s) => ancestry(s).join(' < ')).join('; ')}`);
  }
});

test('a protocol containerd does not support fails the otlp processor, not the daemon', { skip: skipWithoutCtr }, async (t) => {
  const dir = tempDir(t);
  const daemon = await startTestDaemon(t, { args: ['-c', tracingConfig(dir, 'http://127.0.0.1:4318', 'http/json')] });
  assert.match(daemon.output(), /failed to load plugin io\.containerd\.tracing\.processor\.v1\.otlp: .*protocol \\?"http\/json\\?" is not supported/);
  assert.match(ctrAt(daemon.address)('plugins', 'ls'), /^io\.containerd\.tracing\.processor\.v1\s+otlp\s+-\s+error\s*$/m);
});

test('protocol grpc sends the spans to an OTLP/gRPC receiver', { skip: skipWithoutCtr }, async (t) => {
  const dir = tempDir(t);
  const receiver = await startOtlpGrpcReceiver(t);
  const daemon = await startTestDaemon(t, { args: ['-c', tracingConfig(dir, receiver.endpoint, 'grpc', '  insecure = true')] });
  ctrAt(daemon.address)('namespaces', 'create', `${NAMESPACE}-grpc`);
  assert.equal(await daemon.stop(), 0);
  assert.deepEqual(receiver.rejected, []);
  const call = only(receiver.spans, 'containerd.services.namespaces.v1.Namespaces/Create');
  assert.equal(call.resource['service.name'], 'ledgerd-test');
  const [command] = childrenOf(receiver.spans, call);
  assert.equal(command?.name, 'decide-and-append');
  assert.deepEqual(command.attributes['ledgerd.event_types'], ['NamespaceCreated']);
});

test('spans a collector does not take are reported as warnings, and do not hold up the daemon\'s stop', { skip: skipWithoutCtr }, async (t) => {
  const dir = tempDir(t);
  const closedPort = await new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
  const daemon = await startTestDaemon(t, { args: ['-c', tracingConfig(dir, `http://127.0.0.1:${closedPort}`)] });
  ctrAt(daemon.address)('namespaces', 'create', `${NAMESPACE}-lost`);
  assert.equal(await daemon.stop(), 0);
  assert.match(daemon.output(), /level=warn msg="tracing: .*ECONNREFUSED/);
});
