/**
 * The daemon's ttrpc events server: shims Forward /tasks/* envelopes, which arrive as ShimEvents;
 * malformed envelopes get InvalidArgument. (The real Go client, containerd-shim-runc-v2's
 * publisher, is exercised in runtime.test.ts.)
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { startEventsServer } from '../../src/shims/runtime/events-server.js';
import { EVENTS_SERVICE, ForwardRequest, TaskCreate, TaskExit } from '../../src/shims/wire/protocol/events.js';
import { Empty, encode, type MessageType } from '../../src/shims/wire/protocol/protowire.js';
import type { TimestampedShimEvent } from '../../src/shims/runtime/task-runtime.js';
import type { Envelope } from '../../src/shims/runtime/task-events.js';
import { Code, TtrpcClient, TtrpcError, typedCall } from '../../src/shims/wire/ttrpc/index.js';
import { tempDir } from '../helpers/tmp.js';

const FORWARD = { request: ForwardRequest, response: Empty };
const envelope = (topic: string, type: MessageType | undefined, payload: Record<string, unknown>, namespace = 'ns1') => ({
  timestamp: { seconds: 1_700_000_000, nanos: 42 },
  namespace,
  topic,
  event: type ? { type_url: type.name, value: encode(type, payload) } : undefined,
});

test('Forward: task envelopes become ShimEvents; other topics pass through; bad envelopes are InvalidArgument', async (t) => {
  const path = join(tempDir(t), 'ledgerd.sock.ttrpc');
  const events: TimestampedShimEvent[] = [];
  const others: Envelope[] = [];
  const server = await startEventsServer({ path, onEvent: (e) => void events.push(e), onOtherEvent: (e) => others.push(e) });
  t.after(() => server.close());
  const client = await TtrpcClient.connect(path);
  t.after(() => client.close());
  const forward = (env: object) => typedCall(client, EVENTS_SERVICE, 'Forward', FORWARD, { envelope: env });

  await forward(envelope('/tasks/exit', TaskExit, { container_id: 'c1', id: 'x1', pid: 7, exit_status: 137, exited_at: { seconds: 1_700_000_001, nanos: 5 } }));
  await forward(
    envelope('/tasks/create', TaskCreate, {
      container_id: 'c1',
      bundle: '/b',
      rootfs: [{ type: 'overlay', source: 'overlay', target: '', options: ['lowerdir=/l'] }],
      io: { stdin: '', stdout: '/o', stderr: '', terminal: true },
      pid: 9,
    }),
  );
  await forward(envelope('/custom/topic', undefined, {}));
  assert.deepEqual(events, [
    { kind: 'exit', namespace: 'ns1', containerId: 'c1', id: 'x1', pid: 7, exitStatus: 137, exitedAt: 1_700_000_001_000_000_005n, timestamp: 1_700_000_000_000_000_042n },
    {
      kind: 'create',
      namespace: 'ns1',
      containerId: 'c1',
      pid: 9,
      bundle: '/b',
      stdio: { stdin: '', stdout: '/o', stderr: '', terminal: true },
      rootfs: [{ type: 'overlay', source: 'overlay', options: ['lowerdir=/l'] }],
      checkpoint: '',
      timestamp: 1_700_000_000_000_000_042n,
    },
  ]);
  assert.deepEqual(others.map((e) => e.topic), ['/custom/topic']);

  const refused = async (env: object | undefined, message: RegExp) => {
    const err = await typedCall(client, EVENTS_SERVICE, 'Forward', FORWARD, env ? { envelope: env } : {}).catch((e: TtrpcError) => e);
    assert.ok(err instanceof TtrpcError, String(err));
    assert.equal(err.code, Code.InvalidArgument);
    assert.match(err.message, message);
  };
  await refused(undefined, /^envelope is required$/);
  await refused(envelope('', TaskExit, {}), /^envelope topic is required$/);
  await refused(envelope('/tasks/exit', TaskExit, { container_id: 'c1' }, ''), /namespace is required/);
  await refused(envelope('/tasks/exit', TaskCreate, { container_id: 'c1' }), /payload containerd.events.TaskCreate is not containerd.events.TaskExit/);
  await refused({ ...envelope('/tasks/exit', TaskExit, {}), event: { type_url: TaskExit.name, value: Buffer.from([0x0a, 0x05]) } }, /truncated/);
  assert.equal(events.length, 2, 'refused envelopes are not events');
});
