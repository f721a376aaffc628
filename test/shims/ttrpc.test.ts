/**
 * ttrpc 1.1 client and server against each other over a unix socket, and the client against a
 * real Go ttrpc server: Debian's containerd-shim-runc-v2.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { openLogFifo } from '../../src/util/fifo.js';
import { Status, TASK_METHODS } from '../../src/shims/wire/protocol/task.js';
import { decodeResponse, encodeRequest } from '../../src/shims/wire/ttrpc/messages.js';
import {
  Code,
  encodeFrame,
  FrameDecoder,
  MAX_MESSAGE_LENGTH,
  MessageType,
  metadataValue,
  NAMESPACE_METADATA_KEY,
  requireSameUser,
  TtrpcClient,
  TtrpcClosedError,
  TtrpcError,
  TtrpcServer,
  typedCall,
  typedHandler,
  type CallContext,
} from '../../src/shims/wire/ttrpc/index.js';
import { notFound, StatusError } from '../../src/util/errdefs.js';
import { tempDir } from '../helpers/tmp.js';

const TASK = 'containerd.task.v2.Task';
const STATE = TASK_METHODS.State;
const CONNECT = TASK_METHODS.Connect;
const stateRequest = () => encodeRequest({ service: TASK, method: 'State', payload: new Uint8Array(0), timeoutNano: 0, metadata: new Map() });

async function serverAndClient(t: TestContext, setup: (server: TtrpcServer) => void, options = {}) {
  const dir = tempDir(t);
  const path = join(dir, 'sock', 'ttrpc.sock');
  const server = new TtrpcServer(options);
  setup(server);
  await server.listen(path);
  const client = await TtrpcClient.connect(path, { timeoutMs: 1000 });
  t.after(async () => {
    await client.close();
    await server.close();
  });
  return { server, client, path };
}

test('frames: 10-byte big-endian header, split and joined reads, oversized payloads skipped', () => {
  const frame = encodeFrame(7, MessageType.Response, Buffer.from('abc'));
  assert.deepEqual([...frame], [0, 0, 0, 3, 0, 0, 0, 7, 2, 0, 0x61, 0x62, 0x63]);
  const decoder = new FrameDecoder();
  const two = Buffer.concat([frame, encodeFrame(9, MessageType.Request, Buffer.alloc(0))]);
  const got = [...two].flatMap((byte) => decoder.push(Buffer.from([byte])));
  assert.deepEqual(
    got.map((f) => ('payload' in f ? [f.streamId, f.type, f.payload.toString()] : f)),
    [
      [7, 2, 'abc'],
      [9, 1, ''],
    ],
  );
  const big = Buffer.alloc(10 + MAX_MESSAGE_LENGTH + 1);
  big.writeUInt32BE(MAX_MESSAGE_LENGTH + 1, 0);
  big.writeUInt32BE(3, 4);
  big[8] = 1;
  const after = encodeFrame(5, MessageType.Request, Buffer.from('x'));
  const frames = [...decoder.push(big.subarray(0, 70_000)), ...decoder.push(big.subarray(70_000)), ...decoder.push(after)];
  assert.deepEqual(frames[0], { streamId: 3, type: 1, oversized: MAX_MESSAGE_LENGTH + 1 });
  assert.equal(frames.length, 2);
  assert.equal((frames[1] as { payload: Buffer }).payload.toString(), 'x');
});

test('unary calls: messages, metadata and deadline reach the handler; calls run concurrently and answer out of order', async (t) => {
  const seen: CallContext[] = [];
  const { client } = await serverAndClient(t, (server) =>
    server.register(TASK, {
      State: typedHandler<{ id: string; exec_id: string }, object>(STATE.request, STATE.response, async (req, ctx) => {
        seen.push(ctx);
        await sleep(req.id === 'slow' ? 150 : 1);
        return { id: req.id, exec_id: req.exec_id, pid: 42, status: Status.RUNNING, exited_at: { seconds: 1, nanos: 5 } };
      }),
    }),
  );
  const order: string[] = [];
  const call = (id: string) =>
    typedCall<{ id: string; pid: number; status: number }>(client, TASK, 'State', STATE, { id, exec_id: 'e1' }, {
      timeoutMs: 5000,
      metadata: { [NAMESPACE_METADATA_KEY]: 'ns1', 'X-Multi': ['a', 'b'] },
    }).then((r) => (order.push(r.id), r));
  const started = Date.now();
  const [slow, fast] = await Promise.all([call('slow'), call('fast')]);
  assert.deepEqual(order, ['fast', 'slow']);
  assert.equal(slow.pid, 42);
  assert.equal(fast.status, Status.RUNNING);
  assert.equal(seen.length, 2);
  for (const ctx of seen) {
    assert.equal(ctx.service, TASK);
    assert.equal(ctx.method, 'State');
    assert.equal(metadataValue(ctx.metadata, 'Containerd-Namespace-TTRPC'), 'ns1');
    assert.deepEqual(ctx.metadata.get('x-multi'), ['a', 'b']);
    assert.ok(ctx.deadline! > started + 4000 && ctx.deadline! <= Date.now() + 5000, `deadline ${ctx.deadline}`);
  }
});

test('status errors: codes and messages cross the wire; errdefs kinds round-trip; unknown service and method', async (t) => {
  const { client } = await serverAndClient(t, (server) =>
    server.register(TASK, {
      State: () => {
        throw notFound('container "c1"');
      },
      Kill: () => {
        throw new TtrpcError(Code.FailedPrecondition, 'process already finished');
      },
      Start: () => {
        throw new Error('cannot start a running process');
      },
    }),
  );
  const failure = (method: string, service = TASK) =>
    client.call(service, method, new Uint8Array(0)).then(
      () => assert.fail('expected an error'),
      (err: TtrpcError) => err,
    );
  const nf = await failure('State');
  assert.equal(nf.code, Code.NotFound);
  assert.equal(nf.message, 'container "c1": not found');
  assert.ok(nf instanceof StatusError, 'the gRPC layer passes a shim status on as it is');
  assert.deepEqual([(await failure('Kill')).code, (await failure('Kill')).message], [Code.FailedPrecondition, 'process already finished']);
  assert.deepEqual([(await failure('Start')).code, (await failure('Start')).message], [Code.Unknown, 'cannot start a running process']);
  assert.deepEqual([(await failure('Nope')).code, (await failure('Nope')).message], [Code.Unimplemented, 'method Nope']);
  const svc = await failure('State', 'x.Y');
  assert.deepEqual([svc.code, svc.message], [Code.Unimplemented, 'service x.Y']);
});

test('deadlines: the client gives up with DeadlineExceeded and the handler sees its signal abort', async (t) => {
  let aborted: unknown;
  const { client } = await serverAndClient(t, (server) =>
    server.register(TASK, {
      Wait: (_payload, ctx) =>
        new Promise((resolve) => {
          ctx.signal.addEventListener('abort', () => {
            aborted = ctx.signal.reason;
            resolve(new Uint8Array(0));
          });
        }),
      State: () => new Uint8Array(0),
    }),
  );
  const err = await client.call(TASK, 'Wait', new Uint8Array(0), { timeoutMs: 50 }).catch((e: TtrpcError) => e);
  assert.ok(err instanceof TtrpcError);
  assert.equal(err.code, Code.DeadlineExceeded);
  await sleep(50);
  assert.ok(aborted instanceof TtrpcError && aborted.code === Code.DeadlineExceeded);
  // the late answer to the abandoned stream is dropped; the connection still works
  assert.equal((await client.call(TASK, 'State', new Uint8Array(0))).length, 0);
});

test('close: pending calls fail with ttrpc: closed, close listeners run, handlers see the connection go', async (t) => {
  let handlerSignal: AbortSignal | undefined;
  const { client, server } = await serverAndClient(t, (s) =>
    s.register(TASK, {
      Wait: (_p, ctx) => {
        handlerSignal = ctx.signal;
        return new Promise(() => {});
      },
    }),
  );
  const closed = new Promise<void>((resolve) => client.onClose(() => resolve()));
  const pending = assert.rejects(client.call(TASK, 'Wait', new Uint8Array(0)), TtrpcClosedError);
  await sleep(30);
  await server.close();
  await pending;
  await closed;
  assert.equal(client.closed, true);
  assert.equal(handlerSignal?.aborted, true);
  await assert.rejects(client.call(TASK, 'Wait', new Uint8Array(0)), /ttrpc: closed/);
});

test('socket files: a closing server removes its own file, never one another server has bound since at the same path', async (t) => {
  // a shim ending removes its socket first, then closes once its last events are out; meanwhile a
  // new shim for the same task id may listen at that path (issue 13: it lost its socket)
  const { server: old, client, path } = await serverAndClient(t, (s) => s.register(TASK, { State: async () => Buffer.from('old') }));
  rmSync(path);
  const next = new TtrpcServer();
  next.register(TASK, { State: async () => Buffer.from('next') });
  await next.listen(path);
  t.after(() => next.close());
  assert.equal((await client.call(TASK, 'State', new Uint8Array(0))).toString(), 'old', 'the old server still serves its connection');
  await old.close();
  assert.ok(existsSync(path), 'the new server\'s socket file is still there');
  const dialled = await TtrpcClient.connect(path, { timeoutMs: 1000 });
  t.after(() => dialled.close());
  assert.equal((await dialled.call(TASK, 'State', new Uint8Array(0))).toString(), 'next');

  // its own file it removes, at close or before (removeSocketFiles), and with it the path's listener
  next.removeSocketFiles();
  assert.equal(existsSync(path), false);
  await next.close();
  const third = new TtrpcServer();
  await third.listen(path);
  await third.close();
  assert.equal(existsSync(path), false, 'close removes the file it bound');
});

/** Sends raw bytes and collects the response frames that come back. */
async function rawExchange(path: string, bytes: Buffer, frames: number): Promise<{ streamId: number; code: number; message: string }[]> {
  const socket: Socket = connect(path);
  const decoder = new FrameDecoder();
  const out: { streamId: number; code: number; message: string }[] = [];
  await new Promise<void>((resolve, reject) => {
    socket.on('error', reject);
    socket.on('data', (chunk) => {
      for (const f of decoder.push(chunk)) {
        if (!('payload' in f)) continue;
        const status = decodeResponse(f.payload).status;
        out.push({ streamId: f.streamId, code: status?.code ?? 0, message: status?.message ?? '' });
      }
      if (out.length >= frames) resolve();
    });
    socket.write(bytes);
  });
  socket.destroy();
  return out;
}

test('protocol errors: even stream ids, undecodable requests and oversized frames get their status; the connection lives on', async (t) => {
  const { path } = await serverAndClient(t, (s) => s.register(TASK, { State: () => new Uint8Array(0) }));
  const request = stateRequest();
  const oversized = Buffer.alloc(10 + MAX_MESSAGE_LENGTH + 1);
  oversized.writeUInt32BE(MAX_MESSAGE_LENGTH + 1, 0);
  oversized.writeUInt32BE(5, 4);
  oversized[8] = MessageType.Request;
  const bytes = Buffer.concat([
    encodeFrame(2, MessageType.Request, request),
    encodeFrame(3, MessageType.Request, Buffer.from([0xff, 0xff, 0xff])),
    oversized,
    encodeFrame(99, 0x03, Buffer.from('ignored data frame')),
    encodeFrame(7, MessageType.Request, request),
  ]);
  const got = await rawExchange(path, bytes, 4);
  assert.deepEqual(got[0], { streamId: 2, code: Code.InvalidArgument, message: 'StreamID must be odd for client initiated streams' });
  assert.equal(got[1]!.streamId, 3);
  assert.equal(got[1]!.code, Code.InvalidArgument);
  assert.match(got[1]!.message, /^unmarshal request error: /);
  assert.deepEqual(got[2], { streamId: 5, code: Code.ResourceExhausted, message: `message length ${MAX_MESSAGE_LENGTH + 1} exceed maximum message size of 4194304` });
  assert.deepEqual(got[3], { streamId: 7, code: 0, message: '' });
});

test('peer check: a connection from another uid is refused, the same uid is served', async (t) => {
  const refused: string[] = [];
  const dir = tempDir(t);
  chmodSync(dir, 0o755);
  const path = join(dir, 'ttrpc.sock');
  const server = new TtrpcServer({ authorize: requireSameUser(), onError: (e) => refused.push(e.message) });
  server.register(TASK, { State: () => new Uint8Array(0) });
  await server.listen(path, { mode: 0o666 });
  t.after(() => server.close());
  const frame = encodeFrame(1, MessageType.Request, stateRequest());
  // nobody (65534) connects, sends a request, and reports what it got back
  const script = `const s=require('net').connect(process.argv[1]);let n=0;s.on('data',d=>n+=d.length);s.on('error',()=>{});s.on('close',()=>{console.log('bytes:'+n)});s.write(Buffer.from(process.argv[2],'hex'));setTimeout(()=>s.destroy(),2000).unref();`;
  const other = spawn(process.execPath, ['-e', script, path, frame.toString('hex')], { uid: 65534, gid: 65534, stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  other.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  await new Promise((resolve) => other.on('close', resolve));
  assert.equal(stdout.trim(), 'bytes:0');
  assert.match(refused.join('\n'), /refusing connection: peer uid 65534 gid 65534 is not uid 0 gid 0/);
  const client = await TtrpcClient.connect(path);
  t.after(() => client.close());
  assert.equal((await client.call(TASK, 'State', new Uint8Array(0))).length, 0);
});

/** Whether a process (not our child) is gone, or a zombie, within two seconds. */
async function exited(pid: number): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    try {
      if (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.startsWith('Z')) return true;
    } catch {
      return true;
    }
    await sleep(20);
  }
  return false;
}

test('a real Go ttrpc server: containerd-shim-runc-v2 answers Connect, State (NotFound) and Shutdown', async (t) => {
  const shim = '/usr/bin/containerd-shim-runc-v2';
  if (!existsSync(shim)) return t.skip('containerd-shim-runc-v2 is not installed');
  const dir = tempDir(t);
  const bundle = join(dir, 'bundle');
  mkdirSync(bundle);
  writeFileSync(join(bundle, 'config.json'), '{}');
  const log = openLogFifo(join(bundle, 'log'));
  let shimLog = '';
  log.on('data', (d: Buffer) => (shimLog += d.toString()));
  t.after(() => log.destroy());
  const namespace = `ttrpc-${process.pid}`;
  const args = ['-namespace', namespace, '-address', join(dir, 'daemon.sock'), '-publish-binary', '/bin/true', '-id', 't1', 'start'];
  const child = spawn(shim, args, { cwd: bundle, env: { ...process.env, TTRPC_ADDRESS: join(dir, 'daemon.sock.ttrpc') }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const code = await new Promise((resolve) => child.on('close', resolve));
  assert.equal(code, 0, output);
  const address = output.trim();
  assert.match(address, /^unix:\/\/\/run\/containerd\/s\/[0-9a-f]{64}$/);
  const client = await TtrpcClient.connect(address.slice('unix://'.length));
  t.after(() => client.close());
  const md = { metadata: { [NAMESPACE_METADATA_KEY]: namespace }, timeoutMs: 5000 };
  const connected = await typedCall<{ shim_pid: number; task_pid: number }>(client, TASK, 'Connect', CONNECT, { id: 't1' }, md);
  assert.ok(connected.shim_pid > 1);
  assert.equal(connected.task_pid, 0);
  const err = await typedCall(client, TASK, 'State', STATE, { id: 't1' }, md).catch((e: TtrpcError) => e);
  assert.ok(err instanceof TtrpcError, String(err));
  assert.equal(err.code, Code.NotFound);
  assert.match(err.message, /not found/);
  const closed = new Promise<void>((resolve) => client.onClose(() => resolve()));
  await typedCall(client, TASK, 'Shutdown', TASK_METHODS.Shutdown, { id: 't1' }, md).catch(
    (e: Error) => assert.ok(e instanceof TtrpcClosedError, e.message),
  );
  await closed;
  for (let i = 0; i < 100 && existsSync(address.slice(7)); i++) await sleep(20);
  assert.equal(existsSync(address.slice(7)), false, `the shim removed its socket (log: ${shimLog})`);
  assert.ok(await exited(connected.shim_pid), 'the shim process exited');
});
