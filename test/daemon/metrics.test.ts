// /v1/metrics after real `ctr` use: the gRPC server's per-method families under
// go-grpc-prometheus's names and the daemon's ttrpc calls to shims.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestDaemon } from '../helpers/daemon.js';
import { ctrAt, skipWithoutCtr } from '../helpers/ctr.js';
import { pullBusybox, skipWithoutRegistry } from '../helpers/busybox-image.js';
import { familyTypes, find, parseExposition, scrape } from '../helpers/metrics.js';
import { tempDir } from '../helpers/tmp.js';

const TASKS = 'containerd.services.tasks.v1.Tasks';
const skip = skipWithoutCtr || skipWithoutRegistry || (!existsSync('/usr/sbin/runc') && !existsSync('/usr/bin/runc') && 'runc is not installed');

test('a scrape after ctr run shows per-method gRPC metrics and the ttrpc calls to the shim', { skip }, async (t) => {
  const dir = tempDir(t);
  const metricsSocket = join(dir, 'metrics.sock');
  writeFileSync(join(dir, 'config.toml'), `version = 2\n[metrics]\naddress = "${metricsSocket}"\ngrpc_histogram = true\n`);
  const daemon = await startTestDaemon(t, { args: ['-c', join(dir, 'config.toml')] });
  const ctr = ctrAt(daemon.address, 'metrics');
  const image = await pullBusybox(t, daemon.address, 'metrics');
  assert.equal(ctr('run', '--rm', image, 'once', 'echo', 'hi'), 'hi\n');
  assert.throws(() => ctr('containers', 'info', 'no-such-container'), /not found/);

  const text = await scrape(metricsSocket);
  const samples = parseExposition(text);
  const types = familyTypes(text);
  for (const [family, type] of [
    ['grpc_server_started_total', 'counter'],
    ['grpc_server_handled_total', 'counter'],
    ['grpc_server_msg_received_total', 'counter'],
    ['grpc_server_msg_sent_total', 'counter'],
    ['grpc_server_handling_seconds', 'histogram'],
    ['ledgerd_shim_ttrpc_started_total', 'counter'],
    ['ledgerd_shim_ttrpc_handled_total', 'counter'],
    ['ledgerd_shim_ttrpc_handling_seconds', 'histogram'],
  ]) {
    assert.equal(types.get(family!), type, `# TYPE ${family} ${type}`);
  }
  const value = (name: string, labels: Record<string, string>) => {
    const [sample, ...more] = find(samples, name, labels);
    assert.ok(sample && more.length === 0, `one ${name} ${JSON.stringify(labels)}`);
    return sample.value;
  };
  const create = { grpc_service: TASKS, grpc_method: 'Create', grpc_type: 'unary' };
  assert.equal(value('grpc_server_started_total', create), 1);
  assert.equal(value('grpc_server_handled_total', { ...create, grpc_code: 'OK' }), 1);
  assert.equal(value('grpc_server_msg_received_total', create), 1);
  assert.equal(value('grpc_server_msg_sent_total', create), 1);
  assert.equal(value('grpc_server_handling_seconds_count', create), 1);
  assert.equal(value('grpc_server_handled_total', { ...create, grpc_code: 'Internal' }), 0, 'every code of every method starts at 0');
  // the pull writes content through a bidirectional stream: several messages each way
  const write = { grpc_service: 'containerd.services.content.v1.Content', grpc_method: 'Write', grpc_type: 'bidi_stream' };
  assert.ok(value('grpc_server_msg_received_total', write) >= 3);
  assert.ok(value('grpc_server_msg_sent_total', write) >= 3);
  assert.equal(value('grpc_server_handled_total', { grpc_service: 'containerd.services.containers.v1.Containers', grpc_method: 'Get', grpc_code: 'NotFound' }), 1);
  // the daemon's calls to the shim: one Create and one Start of the task, answered OK
  const shimCreate = { ttrpc_service: 'containerd.task.v2.Task', ttrpc_method: 'Create' };
  assert.equal(value('ledgerd_shim_ttrpc_started_total', shimCreate), 1);
  assert.equal(value('ledgerd_shim_ttrpc_handled_total', { ...shimCreate, ttrpc_code: 'OK' }), 1);
  assert.equal(value('ledgerd_shim_ttrpc_handling_seconds_count', shimCreate), 1);
});
