// Exec, Attach and PortForward through the CRI and its streaming server, with clients of the
// test's own (SPDY as client-go speaks it, and a websocket through ws), against a pod in a
// network namespace of the test's own.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { startTestDaemon } from '../helpers/daemon.js';
import { buildImage, busyboxEntries, skipWithoutRegistry, startTestRegistry } from '../helpers/registry.js';
import { criClient, testNetns, writeCriConfig, type CriClient } from '../helpers/cri.js';
import { skipCri as skip } from '../helpers/cri-testbed.js';
import { SpdyClient, type Dial } from '../helpers/spdy-client.js';
import { dialLocalhost } from '../../src/cri/streaming/netns-dial.js';
import { tempDir } from '../helpers/tmp.js';

const V4 = 'v4.channel.k8s.io';

/** The test's namespace; the daemon's streaming server listens on its loopback, reached through the daemon's own way in. */
function streamingNetns(t: TestContext): { wrap: string[]; dial: Dial } {
  const wrap = testNetns(t, 'cristream');
  const netnsPath = wrap[1].slice('--net='.length);
  return { wrap, dial: (_host, port) => dialLocalhost(netnsPath, port) };
}

interface Streams {
  readonly error: Promise<string>;
  readonly stdout?: Promise<string>;
  readonly stderr?: Promise<string>;
}

/** An exec or attach session as client-go's SPDY executor opens it: error first, then the rest. */
async function spdySession(dial: Dial, url: string, wanted: { stdin?: string; stdout?: boolean; stderr?: boolean; resize?: object }, protocol = V4): Promise<Streams> {
  const { client, response } = await SpdyClient.connect(url, [protocol], dial);
  assert.ok(client, `upgraded: ${response.status} ${response.body}`);
  assert.equal(response.headers['x-stream-protocol-version'], protocol);
  const text = (p: Promise<Buffer>) => p.then((b) => b.toString());
  const error = client.openStream({ streamtype: 'error' });
  const stdin = wanted.stdin !== undefined ? client.openStream({ streamtype: 'stdin' }) : undefined;
  const stdout = wanted.stdout ? client.openStream({ streamtype: 'stdout' }) : undefined;
  const stderr = wanted.stderr ? client.openStream({ streamtype: 'stderr' }) : undefined;
  const resize = wanted.resize ? client.openStream({ streamtype: 'resize' }) : undefined;
  await Promise.all([error, stdin, stdout, stderr, resize].map((s) => s?.replied));
  if (resize) resize.write(`${JSON.stringify(wanted.resize)}\n`);
  if (stdin) {
    stdin.write(wanted.stdin!);
    stdin.end();
  }
  return { error: text(error.received), stdout: stdout && text(stdout.received), stderr: stderr && text(stderr.received) };
}

test('streaming: exec (SPDY v4 and v2, stdin, a terminal with resize, websocket), attach, port forward, bad URLs', { skip, timeout: 180_000 }, async (t) => {
  const { wrap: inNetns, dial } = streamingNetns(t);
  const dataDir = join(tempDir(t), 'registry');
  const pushing = await startTestRegistry(t, { dataDir });
  const tools = [...busyboxEntries(), ...['sleep', 'nc', 'stty'].map((a) => ({ name: `bin/${a}`, type: 'symlink' as const, linkname: 'busybox' }))];
  await pushing.pushImage('pause', '3.6', await buildImage([tools], { cmd: ['/bin/sleep', 'infinity'] }));
  await pushing.pushImage('library/busybox', '1.0', await buildImage([tools]));
  await pushing.stop();
  const registry = await startTestRegistry(t, { dataDir, wrap: inNetns });

  const dir = tempDir(t);
  const { config, cniConf } = writeCriConfig(dir, registry.host);
  writeFileSync(
    join(cniConf, '10-crinet.conflist'),
    JSON.stringify({
      cniVersion: '1.0.0',
      name: 'crinet',
      plugins: [{ type: 'bridge', bridge: 'cribr0', isGateway: true, ipMasq: false, ipam: { type: 'host-local', ranges: [[{ subnet: '10.89.0.0/16' }]] } }],
    }),
  );
  const daemon = await startTestDaemon(t, { dir: join(dir, 'daemon'), args: ['-c', config], wrap: inNetns });
  const cri: CriClient = criClient(t, daemon.address);
  const podConfig = { metadata: { name: 'stream', uid: 'uid-s', namespace: 'default', attempt: 0 }, log_directory: join(dir, 'pod-logs') };
  const { pod_sandbox_id: podId } = await cri.runtime('RunPodSandbox', { config: podConfig });
  try {
    await exercise();
  } finally {
    // whatever failed, the pod's processes, shim and netns go before the daemon and its files
    await cri.runtime('RemovePodSandbox', { pod_sandbox_id: podId }).catch(() => undefined);
  }

  async function exercise() {
  await cri.images('PullImage', { image: { image: 'busybox:1.0' } });
  const container = async (name: string, command: string, extra: object = {}) => {
    const { container_id: id } = await cri.runtime('CreateContainer', {
      pod_sandbox_id: podId,
      config: { metadata: { name }, image: { image: 'busybox:1.0' }, command: ['sh', '-c', command], log_path: `${name}.log`, ...extra },
      sandbox_config: podConfig,
    });
    await cri.runtime('StartContainer', { container_id: id });
    return id as string;
  };
  // inside the pod's network: an echo server on 7777, and one on 7778 that answers and closes first
  const cid = await container('app', 'nc -ll -p 7777 -e cat & nc -ll -p 7778 -e echo pong & exec sleep 1000');
  const execUrl = async (request: object) => (await cri.runtime('Exec', { container_id: cid, ...request })).url as string;

  // exit status and both outputs, v4: the status is JSON with the code
  let session = await spdySession(dial, await execUrl({ cmd: ['sh', '-c', 'echo out; echo err >&2; exit 3'], stdout: true, stderr: true }), { stdout: true, stderr: true });
  assert.equal(await session.stdout, 'out\n');
  assert.equal(await session.stderr, 'err\n');
  const failure = JSON.parse(await session.error);
  assert.equal(failure.status, 'Failure');
  assert.equal(failure.reason, 'NonZeroExitCode');
  assert.deepEqual(failure.details.causes, [{ reason: 'ExitCode', message: '3' }]);

  // v2: the failure as text; success says nothing
  session = await spdySession(dial, await execUrl({ cmd: ['sh', '-c', 'exit 4'], stdout: true }), { stdout: true }, 'v2.channel.k8s.io');
  assert.equal(await session.error, 'command terminated with non-zero exit code: error executing command [sh -c exit 4], exit code 4');
  session = await spdySession(dial, await execUrl({ cmd: ['true'], stdout: true }), { stdout: true }, 'v2.channel.k8s.io');
  assert.equal(await session.error, '');

  // stdin reaches the process, and its end is the process's end of input
  const input = randomBytes(100_000).toString('base64');
  session = await spdySession(dial, await execUrl({ cmd: ['cat'], stdin: true, stdout: true }), { stdin: input, stdout: true });
  assert.equal(await session.stdout, input);
  assert.deepEqual(JSON.parse(await session.error), { metadata: {}, status: 'Success' });

  // a terminal, resized by the client
  session = await spdySession(dial, 
    await execUrl({ cmd: ['sh', '-c', 'while [ "$(stty size)" != "30 100" ]; do sleep 0.1; done; echo "TERM=$TERM resized"'], tty: true, stdin: true, stdout: true }),
    { stdin: '', stdout: true, resize: { Width: 100, Height: 30 } },
  );
  assert.match(await session.stdout!, /TERM=xterm resized\r\n/);
  assert.equal(JSON.parse(await session.error).status, 'Success');

  // the websocket variant: a channel byte before each message
  const wsUrl = new URL((await execUrl({ cmd: ['sh', '-c', 'echo hi; exit 2'], stdout: true, stderr: true })).replace(/^http/, 'ws'));
  const wsSocket = await dial(wsUrl.hostname, Number(wsUrl.port));
  const ws = new WebSocket(wsUrl, [V4], { createConnection: () => wsSocket });
  const messages: Buffer[] = [];
  ws.on('message', (m: Buffer) => messages.push(m));
  await new Promise((resolve) => ws.once('close', resolve));
  assert.equal(ws.protocol, V4);
  const channel = (n: number) => Buffer.concat(messages.filter((m) => m[0] === n).map((m) => m.subarray(1))).toString();
  assert.equal(channel(1), 'hi\n');
  assert.deepEqual(JSON.parse(channel(3)).details.causes, [{ reason: 'ExitCode', message: '2' }]);
  // base64.channel.k8s.io: text messages, the channel a digit, the data base64; success says nothing
  const b64Url = new URL((await execUrl({ cmd: ['sh', '-c', 'echo $((2+3))'], stdout: true })).replace(/^http/, 'ws'));
  const b64Socket = await dial(b64Url.hostname, Number(b64Url.port));
  const b64 = new WebSocket(b64Url, ['base64.channel.k8s.io'], { createConnection: () => b64Socket });
  const texts: string[] = [];
  b64.on('message', (m: Buffer, binary: boolean) => texts.push(`${binary ? 'binary' : 'text'}:${m.toString()}`));
  await new Promise((resolve) => b64.once('close', resolve));
  assert.deepEqual(texts, ['text:1', `text:1${Buffer.from('5\n').toString('base64')}`]);

  // attach: the container's own stdin and stdout; with stdin_once our end of input is the container's
  const attached = await container('reader', 'read line; echo "got $line"', { stdin: true, stdin_once: true });
  const { url: attachUrl } = await cri.runtime('Attach', { container_id: attached, stdin: true, stdout: true, stderr: true });
  session = await spdySession(dial, attachUrl, { stdin: 'abc\n', stdout: true, stderr: true });
  assert.equal(await session.stdout, 'got abc\n');
  assert.equal(JSON.parse(await session.error).status, 'Success');
  for (let i = 0; (await cri.runtime('ContainerStatus', { container_id: attached })).status.state !== 'CONTAINER_EXITED'; i++) {
    assert.ok(i < 100, 'the container ends with its input');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.match(readFileSync(join(dir, 'pod-logs', 'reader.log'), 'utf8'), / stdout F got abc\n$/, 'what the attached client saw is in the log too');

  // port forward: 1 MiB there and back through the echo server in the pod's namespace
  const { url: forwardUrl } = await cri.runtime('PortForward', { pod_sandbox_id: podId });
  const { client } = await SpdyClient.connect(forwardUrl, ['portforward.k8s.io'], dial);
  assert.ok(client);
  const payload = randomBytes(1 << 20);
  const forwarded = async (port: number, requestId: string, data?: Buffer) => {
    const error = client.openStream({ streamtype: 'error', port: String(port), requestid: requestId });
    const stream = client.openStream({ streamtype: 'data', port: String(port), requestid: requestId });
    await Promise.all([error.replied, stream.replied]);
    if (data) {
      stream.write(data);
      stream.end();
    }
    return { data: await stream.received, error: (await error.received).toString() };
  };
  for (let i = 0; ; i++) {
    // nc starts in the background: until it listens, the forward is refused
    const result = await forwarded(7777, `echo-${i}`, payload);
    if (result.error === '' || i > 50) {
      assert.equal(result.error, '');
      assert.ok(result.data.equals(payload), `the same ${payload.length} bytes come back (got ${result.data.length})`);
      break;
    }
    assert.match(result.error, /ECONNREFUSED/);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  // the pod's side closing while the client's is still open is a normal end, and the connection goes on
  for (const attempt of [1, 2]) assert.deepEqual(await forwarded(7778, `pong-${attempt}`), { data: Buffer.from('pong\n'), error: '' });
  const refused = await forwarded(7779, 'nobody', Buffer.from('x'));
  assert.match(refused.error, /^error forwarding port 7779 to pod [0-9a-f]{64}, uid : .*ECONNREFUSED/);
  client.close();

  // a URL is good once; an unknown protocol is refused with the server's list
  const once = await execUrl({ cmd: ['true'], stdout: true });
  await spdySession(dial, once, { stdout: true });
  assert.equal((await SpdyClient.connect(once, [V4], dial)).response.status, 404);
  const refusedProtocol = await SpdyClient.connect(await execUrl({ cmd: ['true'], stdout: true }), ['v9.channel.k8s.io'], dial);
  assert.equal(refusedProtocol.response.status, 403);
  assert.match(refusedProtocol.response.headers['x-accepted-stream-protocol-versions']!, /v4\.channel\.k8s\.io/);
  }
});
