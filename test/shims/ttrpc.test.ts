import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { join } from 'node:path';
import { TtrpcClient, TtrpcServer, TtrpcError, TtrpcClosedError, Code } from '../../src/shims/ttrpc/index.js';
import { encodeFrame, MESSAGE_REQUEST, FrameReader } from '../../src/shims/ttrpc/channel.js';
import { decodeResponse, encodeRequest } from '../../src/shims/ttrpc/wire.js';
import { tempDir } from '../helpers/tmp.js';

async function pair(t: import('node:test').TestContext, server: TtrpcServer): Promise<{ client: TtrpcClient; path: string }> {
  const path = join(tempDir(t), 'ttrpc.sock');
  await server.listen(path);
  const client = await TtrpcClient.dial(path);
  t.after(async () => {
    client.close();
    await server.close();
  });
  return { client, path };
}

test('unary calls answered out of order, metadata and deadlines reach the handler, errors keep their code', async (t) => {
  const seen: Record<string, string[]>[] = [];
  const server = new TtrpcServer().register('test.v1.Echo', {
    Echo: async (payload, ctx) => {
      seen.push(ctx.metadata as Record<string, string[]>);
      const delay = payload[0] ?? 0;
      await new Promise((resolve) => setTimeout(resolve, delay));
      return Buffer.concat([Buffer.from('echo:'), payload]);
    },
    Fail: () => {
      throw new TtrpcError(Code.NotFound, 'process does not exist x1');
    },
    Crash: () => {
      throw new Error('plain error');
    },
    Slow: (_payload, ctx) =>
      new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(new TtrpcError(Code.DeadlineExceeded, 'deadline seen by the handler')))),
  });
  const { client } = await pair(t, server);
  const order: number[] = [];
  await Promise.all(
    [50, 0, 20].map((delay) =>
      client.call('test.v1.Echo', 'Echo', Buffer.from([delay]), { metadata: { 'Containerd-Namespace-Ttrpc': 'ns1' } }).then((reply) => {
        assert.deepEqual([...reply], [...Buffer.from('echo:'), delay]);
        order.push(delay);
      }),
    ),
  );
  assert.deepEqual(order, [0, 20, 50]);
  assert.deepEqual(seen[0], { 'containerd-namespace-ttrpc': ['ns1'] });
  await assert.rejects(client.call('test.v1.Echo', 'Fail', Buffer.alloc(0)), (err: TtrpcError) => err.code === Code.NotFound && err.message === 'process does not exist x1');
  await assert.rejects(client.call('test.v1.Echo', 'Crash', Buffer.alloc(0)), (err: TtrpcError) => err.code === Code.Unknown && /plain error/.test(err.message));
  await assert.rejects(client.call('test.v1.Nope', 'X', Buffer.alloc(0)), (err: TtrpcError) => err.code === Code.Unimplemented && err.message === 'service test.v1.Nope');
  await assert.rejects(client.call('test.v1.Echo', 'Nope', Buffer.alloc(0)), (err: TtrpcError) => err.code === Code.Unimplemented && err.message === 'method Nope');
  await assert.rejects(client.call('test.v1.Echo', 'Slow', Buffer.alloc(0), { timeoutMs: 50 }), (err: TtrpcError) => err.code === Code.DeadlineExceeded);
});

test('a closed connection fails the calls in flight; even stream ids and oversize frames get ttrpc status errors', async (t) => {
  const server = new TtrpcServer().register('test.v1.Hang', { Hang: () => new Promise(() => undefined) });
  const { client, path } = await pair(t, server);
  const hanging = client.call('test.v1.Hang', 'Hang', Buffer.alloc(0));
  let closed = false;
  client.onClose(() => (closed = true));
  client.close();
  await assert.rejects(hanging, TtrpcClosedError);
  assert.ok(closed);

  const raw = connect(path);
  await new Promise((resolve) => raw.once('connect', resolve));
  const reader = new FrameReader();
  const replies: { code?: number; message?: string }[] = [];
  raw.on('data', (chunk: Buffer) => reader.push(chunk).forEach((f) => replies.push(decodeResponse(f.payload).status ?? {})));
  raw.write(encodeFrame(2, MESSAGE_REQUEST, encodeRequest({ service: 'test.v1.Hang', method: 'Hang', payload: Buffer.alloc(0), timeoutNano: 0n, metadata: [] })));
  const header = Buffer.alloc(10);
  header.writeUInt32BE((4 << 20) + 1, 0);
  header.writeUInt32BE(3, 4);
  header[8] = MESSAGE_REQUEST;
  raw.write(Buffer.concat([header, Buffer.alloc((4 << 20) + 1)]));
  for (let i = 0; i < 100 && replies.length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  raw.destroy();
  assert.deepEqual(replies, [
    { code: Code.InvalidArgument, message: 'StreamID must be odd for client initiated streams' },
    { code: Code.ResourceExhausted, message: `message length ${(4 << 20) + 1} exceed maximum message size of ${4 << 20}` },
  ]);
});

test('a peer with another uid is refused', async (t) => {
  const server = new TtrpcServer().register('test.v1.Echo', { Echo: (p) => p });
  const path = join(tempDir(t), 'strict.sock');
  await server.listen(path, { allowPeer: (peer) => peer !== undefined && peer.uid === 12345 });
  t.after(() => server.close());
  const client = await TtrpcClient.dial(path);
  await assert.rejects(client.call('test.v1.Echo', 'Echo', Buffer.from('x')), TtrpcClosedError);
});
