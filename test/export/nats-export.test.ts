// The NATS JetStream export against a real nats-server and a real daemon: every record of the
// log, once, in order, through a server crash, a daemon SIGKILL, and a server that is not there.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { StoredMsg } from '@nats-io/jetstream';
import { LEDGERCTL, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { eventually, freePort, startNatsServer, type TestNatsServer } from '../helpers/nats-server.js';
import { find, parseExposition, scrape } from '../helpers/metrics.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);
const EVENTS = 'containerd.services.events.v1.Events';
const NAMESPACES = 'containerd.services.namespaces.v1.Namespaces';
const LOG = 'ledgerd.services.log.v1.Log';
const NODE = 'node-1.test';

interface Setup {
  readonly daemon: TestDaemon;
  readonly dir: string;
  readonly metrics: string;
}

/** A daemon exporting to `url`; `settings` are more lines of the plugin's section. */
async function exportingDaemon(t: TestContext, url: string, settings = ''): Promise<Setup> {
  const dir = tempDir(t);
  const metrics = join(dir, 'metrics.sock');
  const config = join(dir, 'config.toml');
  writeFileSync(
    config,
    `version = 2
[metrics]
address = "${metrics}"
[plugins."io.ledgerd.export.v1.nats"]
servers = ["${url}"]
node = "${NODE}"
retry_interval = "100ms"
ack_timeout = "2s"
${settings}
`,
  );
  const daemon = await startTestDaemon(t, { dir, args: ['--log-level', 'warn', '-c', config] });
  return { daemon, dir, metrics };
}

const head = async (daemon: TestDaemon) => (await daemon.connect().unary<{ seq: number }>(LOG, 'Head', {})).seq;

/** `count` records (Events.Publish), `concurrency` at a time so that group commits batch them. */
async function publish(daemon: TestDaemon, count: number, concurrency = 16, from = 0): Promise<void> {
  const c = daemon.connect('load');
  let next = from;
  const worker = async () => {
    while (next < from + count) {
      const i = next++;
      await c.unary(EVENTS, 'Publish', { topic: '/test/export', event: { type_url: 'test.ledgerd/Mark', value: Buffer.from(String(i)) } });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

interface Status {
  readonly state: string;
  readonly acked_seq: string;
  readonly head_seq: string;
  readonly lag_records: string;
  readonly recorded_seq: string;
  readonly published: string;
  readonly duplicates: string;
  readonly failures: string;
  readonly last_error: string;
}

async function exportStatus(daemon: TestDaemon): Promise<Status> {
  const { stdout } = await run(process.execPath, [LEDGERCTL, '-a', daemon.address, 'export', 'status', '--json']);
  return JSON.parse(stdout) as Status;
}

/** Waits until the exporter has everything up to the log's head acknowledged. */
async function caughtUp(daemon: TestDaemon, timeoutMs = 60_000): Promise<number> {
  return eventually(
    'the export to catch up with the log',
    async () => {
      const acked = Number((await exportStatus(daemon)).acked_seq);
      return acked > 0 && acked === (await head(daemon)) ? acked : undefined;
    },
    timeoutMs,
  );
}

/** The log's seqs that are exported: all but the export's own position records. */
async function exportedSeqs(daemon: TestDaemon): Promise<number[]> {
  const { stdout } = await run(process.execPath, [LEDGERCTL, '-a', daemon.address, 'log', 'show'], { maxBuffer: 64 << 20 });
  return stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { seq: number; type: string })
    .filter((record) => record.type !== 'ExportPosition')
    .map((record) => record.seq);
}

const seqOf = (message: StoredMsg) => Number(message.header!.get('Ledgerd-Seq'));

/** The stream holds each exported record of the log once, in log order, with its message id. */
function assertExactlyOnceInOrder(messages: readonly StoredMsg[], expected: readonly number[]): void {
  const seqs = messages.map(seqOf);
  const duplicates = seqs.filter((seq, i) => seqs.indexOf(seq) !== i);
  assert.deepEqual(duplicates, [], 'seqs stored twice');
  const missing = expected.filter((seq) => !seqs.includes(seq));
  assert.deepEqual(missing, [], 'seqs missing from the stream');
  assert.deepEqual(seqs, expected, 'stream order is log order');
  for (const message of messages) assert.equal(message.header!.get('Nats-Msg-Id'), `${NODE}:${seqOf(message)}`);
}

test('records arrive in order with their ids, subjects and JSON; position records are not exported', async (t) => {
  const nats = await startNatsServer(t);
  const { daemon, metrics } = await exportingDaemon(t, nats.url, 'position_interval = "200ms"');
  const c = daemon.connect('k8s.io');
  await c.unary(NAMESPACES, 'Create', { namespace: { name: 'k8s.io', labels: { team: 'infra' } } });
  await publish(daemon, 200);
  await c.unary(NAMESPACES, 'Update', { namespace: { name: 'k8s.io', labels: { team: 'ops' } }, update_mask: { paths: ['labels.team'] } });
  await caughtUp(daemon);

  const messages = await nats.messages('LEDGERD');
  const seqs = await exportedSeqs(daemon);
  assertExactlyOnceInOrder(messages, seqs);
  assert.equal(messages.length, 202);
  const created = messages[0]!;
  assert.equal(created.subject, 'ledgerd.node-1%2Etest.k8s%2Eio.NamespaceCreated');
  assert.equal(created.header!.get('Ledgerd-Schema'), '1');
  const body = created.json<{ format: number; node: string; seq: number; time: string; namespace: string; type: string; schema: number; payload: unknown; meta: { peerUid: number } }>();
  assert.deepEqual(
    { format: body.format, node: body.node, seq: body.seq, namespace: body.namespace, type: body.type, schema: body.schema, payload: body.payload },
    { format: 1, node: NODE, seq: 1, namespace: 'k8s.io', type: 'NamespaceCreated', schema: 1, payload: { name: 'k8s.io', labels: { team: 'infra' } } },
  );
  assert.match(body.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
  assert.equal(body.meta.peerUid, process.getuid!());
  const mark = messages[1]!;
  assert.equal(mark.subject, 'ledgerd.node-1%2Etest.load.EnvelopePublished');
  assert.equal(Buffer.from(mark.json<{ payload: { value: string } }>().payload.value, 'base64').toString().length > 0, true);

  // the position is recorded in the log (past the last exported record: a position record before
  // it may be passed over too), and recording it exports nothing more
  await eventually('a recorded position', async () => Number((await exportStatus(daemon)).recorded_seq) >= seqs.at(-1)! || undefined);
  const status = await exportStatus(daemon);
  assert.equal(status.state, 'exporting');
  assert.deepEqual([status.published, status.duplicates, status.failures], ['202', '0', '0']);
  const text = (await run(process.execPath, [LEDGERCTL, '-a', daemon.address, 'export', 'status'])).stdout;
  assert.match(text, /^export nats:\n {2}state +exporting/);
  assert.match(text, /stream +LEDGERD \(subjects ledgerd\.node-1%2Etest\.>\)/);
  const samples = parseExposition(await scrape(metrics));
  assert.equal(find(samples, 'ledgerd_export_lag_records', { exporter: 'nats' })[0]?.value, 0);
  assert.equal(find(samples, 'ledgerd_export_connected', { exporter: 'nats' })[0]?.value, 1);
  assert.equal(find(samples, 'ledgerd_export_published_total', { exporter: 'nats' })[0]?.value, 202);
  assert.equal((await nats.messages('LEDGERD')).length, 202, 'position records were exported');
  // the fleet's view: ledgerctl audit reads the stream, filtered by subject and text
  const audit = (...args: string[]) => run(process.execPath, [LEDGERCTL, 'audit', '--nats', nats.url, ...args]).then((r) => r.stdout);
  const me = `uid=${process.getuid!()},pid=\\d+`;
  assert.match(
    await audit('--namespace', 'k8s.io'),
    new RegExp(`^NODE +SEQ +TIME +NAMESPACE +TYPE +STREAM +WHO +\\n${NODE.replace('.', '\\.')} +1 +\\S+ +k8s\\.io +NamespaceCreated +namespace +${me} +\\n${NODE.replace('.', '\\.')} +\\d+ +\\S+ +k8s\\.io +NamespaceUpdated +namespace +${me} +\\n$`),
  );
  const marks = (await audit('--node', NODE, '--type', 'EnvelopePublished', '--json')).trim().split('\n');
  assert.equal(marks.length, 200);
  assert.equal(await audit('--namespace', 'nowhere'), 'NODE SEQ TIME NAMESPACE TYPE STREAM WHO \n');
  assert.match(await audit('--match', '"team":"ops"'), /NamespaceUpdated/);
});

test('nats-server killed and restarted mid-stream: nothing lost, nothing twice', async (t) => {
  const nats = await startNatsServer(t);
  const { daemon } = await exportingDaemon(t, nats.url);
  const writing = publish(daemon, 800, 8);
  await eventually('the export under way', async () => Number((await exportStatus(daemon)).acked_seq) > 100 || undefined);
  await nats.kill();
  // the daemon's writers are not held up by the export: appends go on while the server is down
  const during = await head(daemon);
  await eventually('appends while the server is down', async () => (await head(daemon)) > during + 50 || undefined);
  const status = await eventually('the exporter to notice', async () => {
    const s = await exportStatus(daemon);
    return s.state !== 'exporting' ? s : undefined;
  });
  assert.match(status.state, /^(connecting|retrying)$/);
  await nats.start();
  await writing;
  await caughtUp(daemon);
  assertExactlyOnceInOrder(await nats.messages('LEDGERD'), await exportedSeqs(daemon));
  assert.ok(Number((await exportStatus(daemon)).failures) > 0);
});

test('a nats-server that stops answering (SIGSTOP) holds up no append; once it answers again the stream holds each seq once', async (t) => {
  const nats = await startNatsServer(t);
  const { daemon } = await exportingDaemon(t, nats.url, 'max_in_flight = 16');
  await publish(daemon, 100);
  await caughtUp(daemon);
  nats.signal('SIGSTOP');
  // a stalled server fills the window of 16 and times out its acks; the writers never wait for it
  const writing = publish(daemon, 150, 8);
  await eventually('the exporter to give up on the stalled connection', async () => ((await exportStatus(daemon)).state !== 'exporting' ? true : undefined));
  await writing;
  assert.ok(Number((await exportStatus(daemon)).lag_records) >= 120, 'the export is behind while the server is stopped');
  nats.signal('SIGCONT');
  await caughtUp(daemon);
  assertExactlyOnceInOrder(await nats.messages('LEDGERD'), await exportedSeqs(daemon));
});

test('the daemon SIGKILLed mid-export and restarted: the stream holds each seq once, past its duplicate window', async (t) => {
  const nats = await startNatsServer(t);
  // a 1 s duplicate window and a position the log records only once an hour: after the restart
  // only the stream's own last message can tell where to resume
  const { daemon, dir } = await exportingDaemon(t, nats.url, 'duplicate_window = "1s"\nposition_interval = "1h"\nmax_in_flight = 8');
  const writing = publish(daemon, 800, 8).catch(() => undefined);
  await eventually('the export under way', async () => Number((await exportStatus(daemon)).acked_seq) > 200 || undefined);
  await daemon.kill();
  await writing;
  const before = await nats.messages('LEDGERD');
  assert.ok(before.length > 200, `${before.length} exported before the kill`);
  await new Promise((resolve) => setTimeout(resolve, 1500)); // the duplicate window passes: this test waits for a condition of time itself
  const again = await startTestDaemon(t, { dir, args: ['--log-level', 'warn', '-c', join(dir, 'config.toml')] });
  await publish(again, 20);
  await caughtUp(again);
  assertExactlyOnceInOrder(await nats.messages('LEDGERD'), await exportedSeqs(again));
});

test('a NATS that is down at start does not stop the daemon from serving; the export starts when it comes', async (t) => {
  const port = await freePort();
  const { daemon } = await exportingDaemon(t, `nats://127.0.0.1:${port}`);
  const c = daemon.connect();
  await c.unary(NAMESPACES, 'Create', { namespace: { name: 'early', labels: {} } });
  await publish(daemon, 30);
  const status = await eventually('a failed connection in the status', async () => {
    const s = await exportStatus(daemon);
    return s.last_error ? s : undefined;
  });
  assert.match(status.state, /^(connecting|retrying)$/);
  assert.match(status.last_error, /ECONNREFUSED|CONNECTION_REFUSED|refused/i);
  const nats: TestNatsServer = await startNatsServer(t, { port });
  await caughtUp(daemon);
  assertExactlyOnceInOrder(await nats.messages('LEDGERD'), await exportedSeqs(daemon));
});
