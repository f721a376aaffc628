import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { connect as http2Connect, createServer as createHttp2Server } from 'node:http2';
import { connect, createServer as createNetServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { credentials, type ChannelCredentials, type Client } from '@grpc/grpc-js';
// @ts-expect-error hpack.js has no types; the test uses its compressor and decompressor
import hpack from 'hpack.js';
import { serviceClient } from '../../src/api/proto.js';
import { HeadersRewriter, routeConnection } from '../../src/daemon/unix-authority.js';
import { LEDGERCTL, startTestDaemon } from '../helpers/daemon.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

function headersFrame(block: Buffer, streamId: number): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(block.length, 0, 3);
  header[3] = 0x1;
  header[4] = 0x4; // END_HEADERS
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, block]);
}

test("a unix socket path as :authority becomes a valid authority of the same length, Huffman-coded or not, in one client's HPACK context", () => {
  const compressor = hpack.compressor.create({ table: { size: 4096 } });
  const decompressor = hpack.decompressor.create({ table: { size: 4096 } });
  const path = '/tmp/cri-ld/d/ledgerd.sock';
  const blocks: Buffer[] = [];
  for (const huffman of [true, false]) {
    compressor.write([
      { name: ':method', value: 'POST', huffman },
      { name: ':authority', value: path + (huffman ? '' : '2'), huffman },
    ]);
    let chunk: Buffer | null;
    const parts: Buffer[] = [];
    while ((chunk = compressor.read())) parts.push(chunk);
    blocks.push(Buffer.concat(parts));
  }
  const data = Buffer.concat([PREFACE, headersFrame(blocks[0]!, 1), headersFrame(blocks[1]!, 3)]);
  const rewriter = new HeadersRewriter();
  // in pieces, as a socket delivers it
  const out = Buffer.concat([rewriter.push(data.subarray(0, 30)), rewriter.push(data.subarray(30, 41)), rewriter.push(data.subarray(41))]);
  assert.equal(out.length, data.length);
  assert.deepEqual(out.subarray(0, 24), PREFACE);
  const decoded: { name: string; value: string }[] = [];
  for (let at = 24; at < out.length; ) {
    const length = out.readUIntBE(at, 3);
    decompressor.write(out.subarray(at + 9, at + 9 + length));
    decompressor.execute();
    let header: { name: string; value: string } | null;
    while ((header = decompressor.read())) decoded.push({ name: header.name, value: header.value });
    at += 9 + length;
  }
  assert.deepEqual(
    decoded.filter((h) => h.name === ':authority').map((h) => h.value),
    ['_tmp_cri-ld_d_ledgerd.sock', '_tmp_cri-ld_d_ledgerd.sock2'],
  );
  assert.deepEqual(decoded.filter((h) => h.name === ':method').map((h) => h.value), ['POST', 'POST']);
});

/** An HTTP/2 server behind routeConnection that answers each request with the :authority it got. */
async function routedServer(t: TestContext, dir: string): Promise<{ path: string; handed: boolean[] }> {
  const path = join(dir, 'h2.sock');
  const handed: boolean[] = []; // per connection: was http2 given the client's own socket?
  const h2 = createHttp2Server();
  h2.on('stream', (stream, headers) => {
    stream.respond({ ':status': 200 });
    stream.end(headers[':authority']);
  });
  const listener = createNetServer((socket) =>
    routeConnection(socket, (http2Socket) => {
      handed.push(http2Socket === socket);
      h2.emit('connection', http2Socket);
    }),
  );
  await new Promise<void>((resolve) => listener.listen(path, resolve));
  t.after(() => listener.close());
  return { path, handed };
}

/** A proxy that passes the client's bytes on one at a time, so the router sees every frame split at every byte. */
async function byteByByteProxy(t: TestContext, dir: string, target: string): Promise<string> {
  const path = join(dir, 'proxy.sock');
  const sockets: Socket[] = [];
  const proxy = createNetServer((client) => {
    const server = connect(target);
    sockets.push(client, server);
    server.pipe(client);
    let chain = Promise.resolve();
    client.on('data', (data: Buffer) => {
      for (const byte of data) chain = chain.then(() => new Promise<void>((resolve) => server.write(Buffer.of(byte), () => setImmediate(resolve))));
    });
    client.on('close', () => server.destroy());
    server.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(path, resolve));
  t.after(() => {
    sockets.forEach((s) => s.destroy());
    proxy.close();
  });
  return path;
}

async function authoritiesSeen(path: string, authority: string): Promise<string[]> {
  const client = http2Connect('http://localhost', { createConnection: () => connect(path) });
  try {
    const seen: string[] = [];
    for (let i = 0; i < 3; i++) {
      const request = client.request({ ':path': '/x', ':authority': authority });
      let body = '';
      request.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      await new Promise((resolve, reject) => request.on('end', resolve).on('error', reject));
      seen.push(body);
    }
    return seen;
  } finally {
    client.close();
  }
}

test('a valid :authority gets the raw socket; a socket path gets the rewriting pipe; frames split anywhere', async (t) => {
  const dir = tempDir(t);
  const { path, handed } = await routedServer(t, dir);
  const split = await byteByByteProxy(t, dir, path);
  for (const via of [path, split]) {
    assert.deepEqual(await authoritiesSeen(via, 'localhost'), ['localhost', 'localhost', 'localhost']);
    assert.deepEqual(await authoritiesSeen(via, '/run/ledgerd/ledgerd.sock'), Array(3).fill('_run_ledgerd_ledgerd.sock'));
  }
  assert.deepEqual(handed, [true, false, true, false]);
});

test('a gRPC client sending the socket path as :authority is served through the pipe, and its records still name its uid and pid', async (t) => {
  const daemon = await startTestDaemon(t, { args: ['--log-level', 'warn'] });
  const Namespaces = serviceClient('containerd.services.namespaces.v1.Namespaces') as unknown as new (address: string, creds: ChannelCredentials, options: object) => Client;
  const client = new Namespaces(`unix://${daemon.address}`, credentials.createInsecure(), { 'grpc.default_authority': daemon.address });
  t.after(() => client.close());
  const create = (client as unknown as Record<string, (req: object, cb: (err: Error | null) => void) => void>).create!.bind(client);
  await promisify(create)({ namespace: { name: 'by-path-authority', labels: {} } });
  const { stdout } = await run(process.execPath, [LEDGERCTL, '-a', daemon.address, 'log', 'show', '--filter', 'type==NamespaceCreated']);
  const record = JSON.parse(stdout.trim().split('\n').at(-1)!) as { namespace: string; meta: Record<string, unknown> };
  assert.equal(record.namespace, 'by-path-authority');
  assert.deepEqual([record.meta.peerUid, record.meta.peerPid], [process.getuid?.(), process.pid]);
});
