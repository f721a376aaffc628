// The streaming server's pieces without a daemon: SPDY framing and header compression (checked
// against Node's own zlib with the SPDY dictionary), the SPDY session's stream life cycle, the
// remotecommand status forms, resize parsing and the one-time request tokens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, createDeflate, inflateSync } from 'node:zlib';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SPDY3_DICTIONARY } from '../../src/cri/streaming/spdy/dictionary.js';
import { controlFrame, dataFrame, FrameReader, FrameType, HeaderDecoder, HeaderEncoder, uint32s } from '../../src/cri/streaming/spdy/frames.js';
import { upgradeToSpdy } from '../../src/cri/streaming/spdy/upgrade.js';
import type { SpdyStream } from '../../src/cri/streaming/spdy/session.js';
import { statusJson, statusText, terminalSizes, type TerminalSize } from '../../src/cri/streaming/command-session.js';
import { RequestCache } from '../../src/cri/streaming/request-cache.js';
import { SpdyClient } from '../helpers/spdy-client.js';
import { connect as tlsConnect } from 'node:tls';
import { defaultCriConfig } from '../../src/cri/config.js';
import { streamServerOptions } from '../../src/cri/streaming/config.js';
import { CriStreamServer } from '../../src/cri/streaming/http-server.js';
import type { CriStreamRuntime } from '../../src/cri/streaming/runtime.js';

/** zlib's checksum of a preset dictionary, its id in a stream's header (RFC 1950). */
function adler32(data: Uint8Array): number {
  let a = 1;
  let b = 0;
  for (const byte of data) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return (b * 65536 + a) >>> 0;
}

test('the SPDY/3 dictionary is the draft\'s 1423 bytes (its zlib dictionary id)', () => {
  assert.equal(SPDY3_DICTIONARY.length, 1423);
  assert.equal(adler32(SPDY3_DICTIONARY), 3821447106);
});

test('header blocks: ours inflate with zlib and the dictionary, zlib\'s decode with ours, one context across blocks', async () => {
  const encoder = new HeaderEncoder();
  const first = encoder.encode({ streamtype: 'stdout', port: '80' });
  const second = encoder.encode({ streamtype: 'error' });
  // the context spans blocks: both together are one zlib stream
  const plain = inflateSync(Buffer.concat([first, second]), { dictionary: SPDY3_DICTIONARY, finishFlush: constants.Z_SYNC_FLUSH });
  assert.equal(plain.readUInt32BE(0), 2);
  assert.ok(plain.includes('streamtype') && plain.includes('stdout') && plain.includes('error'));

  // and the other way: blocks as Go's framer makes them (zlib, dictionary, a sync flush after each)
  const deflate = createDeflate({ dictionary: SPDY3_DICTIONARY });
  const block = (headers: [string, string][]) =>
    new Promise<Buffer>((resolve) => {
      const parts = [uint32s(headers.length), ...headers.flatMap(([n, v]) => [uint32s(n.length), Buffer.from(n), uint32s(v.length), Buffer.from(v)])];
      const out: Buffer[] = [];
      const onData = (c: Buffer) => out.push(c);
      deflate.on('data', onData);
      deflate.write(Buffer.concat(parts));
      deflate.flush(constants.Z_SYNC_FLUSH, () => setImmediate(() => (deflate.off('data', onData), resolve(Buffer.concat(out)))));
    });
  const decoder = new HeaderDecoder();
  assert.deepEqual(decoder.decode(await block([['streamtype', 'data'], ['Port', '8080'], ['requestid', '0']])), { streamtype: 'data', port: '8080', requestid: '0' });
  assert.deepEqual(decoder.decode(await block([['streamtype', 'error'], ['x', 'a\0b']])), { streamtype: 'error', x: 'a\0b' });
  assert.throws(() => new HeaderDecoder().decode(Buffer.from('not zlib at all')), /does not decompress/);
});

test('frames: split anywhere across reads, control and data told apart, oversize refused', () => {
  const bytes = Buffer.concat([controlFrame(FrameType.Ping, 0, uint32s(7)), dataFrame(3, Buffer.from('hello'), true), dataFrame(5, Buffer.alloc(0), false)]);
  for (let cut = 0; cut <= bytes.length; cut++) {
    const reader = new FrameReader();
    const frames = [...reader.push(bytes.subarray(0, cut)), ...reader.push(bytes.subarray(cut))];
    assert.equal(frames.length, 3);
    assert.deepEqual(frames[0], { control: true, version: 3, type: FrameType.Ping, flags: 0, payload: uint32s(7) });
    assert.deepEqual(frames[1], { control: false, streamId: 3, flags: 1, data: Buffer.from('hello') });
    assert.deepEqual(frames[2], { control: false, streamId: 5, flags: 0, data: Buffer.alloc(0) });
  }
  assert.throws(() => new FrameReader(16).push(dataFrame(1, Buffer.alloc(17), false)), /over the limit/);
});

/** A server that upgrades every request to SPDY with `protocols` and hands each session's streams to `onStream`. */
async function spdyServer(t: import('node:test').TestContext, protocols: string[], onStream: (s: SpdyStream) => void, idleTimeoutMs = 0): Promise<string> {
  const server: Server = createServer((_req, res) => res.writeHead(400).end());
  server.on('upgrade', (req, socket, head) => upgradeToSpdy(req, socket, head, protocols, idleTimeoutMs)?.session.on('stream', onStream));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => (server.closeAllConnections(), server.close()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/x`;
}

test('a SPDY session: negotiation, streams accepted or reset, data both ways with FIN, pings answered, big writes in pieces', async (t) => {
  const url = await spdyServer(t, ['v4.channel.k8s.io', 'channel.k8s.io'], (stream) => {
    if (stream.headers.streamtype === 'refuse') return stream.reset();
    stream.accept();
    // echo, then our FIN after theirs
    stream.pipe(stream);
  });
  const refused = await SpdyClient.connect(url, ['v9.channel.k8s.io']);
  assert.equal(refused.response.status, 403);
  assert.equal(refused.response.headers['x-accepted-stream-protocol-versions'], 'v4.channel.k8s.io, channel.k8s.io');
  assert.equal((await SpdyClient.connect(url, [])).response.status, 400);

  const { client, response } = await SpdyClient.connect(url, ['v5.channel.k8s.io', 'channel.k8s.io', 'v4.channel.k8s.io']);
  assert.equal(response.headers['x-stream-protocol-version'], 'channel.k8s.io', "the client's first choice that the server has");
  t.after(() => client!.close());
  const echo = client!.openStream({ streamtype: 'echo' });
  const big = Buffer.alloc(300_000, 'x');
  echo.write('small ');
  echo.write(big);
  echo.end();
  assert.equal((await echo.received).length, 6 + big.length);
  const refusedStream = client!.openStream({ streamtype: 'refuse' });
  assert.equal((await refusedStream.received).length, 0);
  client!.ping(1);
  for (let i = 0; !client!.seen.includes(FrameType.Ping); i++) {
    assert.ok(i < 100, 'the ping comes back');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.ok(client!.seen.includes(FrameType.RstStream));
});

test('a SPDY connection without traffic for stream_idle_timeout is closed with GOAWAY', async (t) => {
  const url = await spdyServer(t, ['portforward.k8s.io'], (stream) => stream.accept(), 300);
  const { client } = await SpdyClient.connect(url, ['portforward.k8s.io']);
  const started = Date.now();
  client!.openStream({ streamtype: 'data' });
  await client!.closed;
  assert.ok(Date.now() - started >= 250, 'not before the timeout');
  assert.ok(client!.seen.includes(FrameType.GoAway));
});

test('remotecommand status: v4 JSON (success, exit code, internal error) and the older text form', () => {
  assert.deepEqual(JSON.parse(statusJson({ exitCode: 0, description: '' })), { metadata: {}, status: 'Success' });
  const failed = JSON.parse(statusJson({ exitCode: 7, description: 'error executing command [false], exit code 7' }));
  assert.equal(failed.reason, 'NonZeroExitCode');
  assert.deepEqual(failed.details.causes, [{ reason: 'ExitCode', message: '7' }]);
  assert.equal(failed.message, 'command terminated with non-zero exit code: error executing command [false], exit code 7');
  const internal = JSON.parse(statusJson({ error: 'no such process' }));
  assert.equal(internal.reason, 'InternalError');
  assert.equal(internal.code, 500);
  assert.equal(statusText({ exitCode: 0, description: '' }), undefined);
  assert.equal(statusText({ exitCode: 1, description: 'x' }), 'command terminated with non-zero exit code: x');
});

test('resize: JSON sizes split across chunks, several in one, garbage skipped', () => {
  const sizes: TerminalSize[] = [];
  const feed = terminalSizes((s) => sizes.push(s));
  feed(Buffer.from('{"Width":80,"Hei'));
  feed(Buffer.from('ght":24}\n{"Width":100,"Height":30}\n{"Width":"x"}{oops}'));
  feed(Buffer.from('{"Width":1,"Height":2}'));
  assert.deepEqual(sizes, [
    { width: 80, height: 24 },
    { width: 100, height: 30 },
    { width: 1, height: 2 },
  ]);
});

test('request tokens: used once, gone after a minute, 1000 at most in flight', () => {
  let now = 0;
  const cache = new RequestCache<string>(() => now);
  const token = cache.insert('a');
  assert.match(token, /^[\w-]{8}$/);
  assert.equal(cache.consume(token), 'a');
  assert.equal(cache.consume(token), undefined, 'once only');
  const late = cache.insert('b');
  now += 60_001;
  assert.equal(cache.consume(late), undefined, 'expired');
  for (let i = 0; i < 1000; i++) cache.insert(String(i));
  assert.throws(() => cache.insert('one too many'), /maximum number of in-flight streaming requests/);
  now += 60_001;
  assert.ok(cache.insert('after expiry'), 'expired entries make room');
});

test('enable_tls_streaming without a key pair: a self-signed certificate, https URLs, the server answers over TLS', async (t) => {
  const options = await streamServerOptions({ ...defaultCriConfig(), stream_server_address: '127.0.0.1', enable_tls_streaming: true });
  assert.match(options.tls!.cert.toString(), /^-----BEGIN CERTIFICATE-----/);
  const server = new CriStreamServer(options, {} as CriStreamRuntime);
  await server.start();
  t.after(() => server.stop());
  const url = await server.getExec({ containerId: 'c', cmd: ['true'], tty: false, stdin: false, stdout: true, stderr: false });
  assert.match(url, /^https:\/\/127\.0\.0\.1:\d+\/exec\/[\w-]{8}$/);
  await assert.rejects(server.getAttach({ containerId: 'c', tty: true, stdin: false, stdout: true, stderr: true }), /tty and stderr cannot both be true/);
  const { port } = new URL(url);
  const socket = tlsConnect({ host: '127.0.0.1', port: Number(port), rejectUnauthorized: false });
  await new Promise((resolve) => socket.once('secureConnect', resolve));
  assert.equal(socket.getPeerCertificate().subject.CN, 'ledgerd-stream');
  socket.end('GET /exec/unknown HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  const reply = await new Promise<string>((resolve) => {
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString())).once('close', () => resolve(text));
  });
  assert.match(reply, /^HTTP\/1\.1 404/);
  await assert.rejects(streamServerOptions({ ...defaultCriConfig(), stream_idle_timeout: 'soon' }), /stream_idle_timeout: invalid duration "soon"/);
  await assert.rejects(streamServerOptions({ ...defaultCriConfig(), stream_server_port: '70000' }), /stream_server_port: "70000" is not a TCP port/);
});
