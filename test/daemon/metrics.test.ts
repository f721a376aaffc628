// /v1/metrics after real `ctr` use: the gRPC server's per-method families under
// go-grpc-prometheus's names, the daemon's ttrpc calls to shims, and containerd's per-container
// families from the shims' cgroup metrics.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { startTestDaemon } from '../helpers/daemon.js';
import { ctrAt, skipWithoutCtr } from '../helpers/ctr.js';
import { pullBusybox, skipWithoutRegistry } from '../helpers/busybox-image.js';
import { familyTypes, find, parseExposition, scrape } from '../helpers/metrics.js';
import { tempDir } from '../helpers/tmp.js';

const TASKS = 'containerd.services.tasks.v1.Tasks';
const DASHBOARD = fileURLToPath(new URL('../../../contrib/grafana/ledgerd.json', import.meta.url));
/** runc's state is per namespace on the whole machine: a namespace of this run's own. */
const NAMESPACE = `metrics-${process.pid}`;
const skip = skipWithoutCtr || skipWithoutRegistry || (!existsSync('/usr/sbin/runc') && !existsSync('/usr/bin/runc') && 'runc is not installed');

/** A daemon serving /v1/metrics (with the latency histograms) and busybox pulled into it. */
async function daemonWithMetrics(t: TestContext) {
  const dir = tempDir(t);
  const metricsSocket = join(dir, 'metrics.sock');
  writeFileSync(join(dir, 'config.toml'), `version = 2\n[metrics]\naddress = "${metricsSocket}"\ngrpc_histogram = true\n`);
  const daemon = await startTestDaemon(t, { args: ['-c', join(dir, 'config.toml')] });
  const ctr = ctrAt(daemon.address, NAMESPACE);
  const image = await pullBusybox(t, daemon.address, NAMESPACE);
  return { daemon, ctr, image, metricsSocket };
}

test('a scrape after ctr run shows per-method gRPC metrics and the ttrpc calls to the shim', { skip }, async (t) => {
  const { daemon, ctr, image, metricsSocket } = await daemonWithMetrics(t);
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
    ['ledgerd_process_nodejs_eventloop_lag_p99_seconds', 'gauge'],
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

const unified = existsSync('/sys/fs/cgroup/cgroup.controllers');

test('running containers have containerd\'s container_* families, and an OOM kill inside one is counted', { skip }, async (t) => {
  const { daemon, ctr, image, metricsSocket } = await daemonWithMetrics(t);
  // removed in the body: the test's directories go (after hooks) before a container's mounts would
  const removeContainers = () => {
    for (const id of ['sleeper', 'oomer']) {
      for (const args of [['tasks', 'delete', '-f', id], ['containers', 'rm', id]]) {
        try {
          ctr(...args);
        } catch {
          // not there (any more)
        }
      }
    }
  };
  try {
    await containersMeasured(ctr, image, metricsSocket);
  } finally {
    removeContainers();
  }
});

async function containersMeasured(ctr: (...args: string[]) => string, image: string, metricsSocket: string): Promise<void> {
  ctr('run', '-d', image, 'sleeper', 'busybox', 'sleep', '600');
  // a child that outgrows the 32 MiB limit is OOM-killed while the container's init sleeps on
  ctr('run', '-d', '--memory-limit', String(32 << 20), image, 'oomer', 'sh', '-c', 'sh -c "x=aaaaaaaa; while :; do x=\\$x\\$x; done"; busybox sleep 600');

  const sleeper = { container_id: 'sleeper', namespace: NAMESPACE };
  const oomer = { container_id: 'oomer', namespace: NAMESPACE };
  let samples = parseExposition(await scrape(metricsSocket));
  // the OOM kill is counted, and the warm shim that went to the first task is replaced (it boots in the background)
  const settled = () => find(samples, 'container_memory_oom_total', oomer)[0]?.value === 1 && (find(samples, 'ledgerd_shims', {})[0]?.value ?? 0) >= 2;
  for (let i = 0; i < 150 && !settled(); i++) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    samples = parseExposition(await scrape(metricsSocket));
  }
  const value = (name: string, labels: Record<string, string>) => {
    const found = find(samples, name, labels);
    assert.equal(found.length, 1, `one ${name} ${JSON.stringify(labels)}`);
    return found[0]!.value;
  };
  assert.equal(value('container_memory_oom_total', oomer), 1);
  assert.equal(value('container_memory_oom_total', sleeper), 0);
  assert.ok(value('container_pids_current', sleeper) >= 1);
  // the shims serving the two containers (packed or not) and the warm one
  assert.ok(value('ledgerd_shims', {}) >= 2);
  assert.ok(value('ledgerd_shims_resident_memory_bytes', {}) > 2 << 20);
  if (unified) {
    assert.ok(value('container_cpu_usage_usec_microseconds', sleeper) > 0);
    assert.ok(value('container_memory_usage_bytes', sleeper) > 0);
    assert.equal(value('container_memory_usage_limit_bytes', oomer), 32 << 20);
  } else {
    assert.ok(value('container_cpu_total_nanoseconds', sleeper) > 0);
    assert.ok(find(samples, 'container_per_cpu_nanoseconds', { ...sleeper, cpu: '0' }).length === 1);
    assert.ok(value('container_memory_usage_usage_bytes', sleeper) > 0);
    assert.equal(value('container_memory_usage_limit_bytes', oomer), 32 << 20);
    assert.ok(value('container_memory_rss_bytes', sleeper) > 0);
  }
  const text = await scrape(metricsSocket);
  const families = familyTypes(text);
  // every series contrib/grafana/ledgerd.json queries is one the daemon exports
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: { targets: { expr: string }[] }[] };
  const queried = dashboard.panels.flatMap((p) => p.targets.flatMap((target) => target.expr.match(/\b(?:grpc_server|ledgerd|container)_[a-z0-9_]+/g) ?? []).filter((name) => name !== 'container_id'));
  assert.ok(queried.length > 15);
  for (const series of queried) assert.ok(families.has(series.replace(/_(bucket|count|sum)$/, '')), `${series} (in the dashboard) is exported`);
  for (const family of unified ? ['container_io_rbytes_bytes', 'container_memory_pgfault_bytes'] : ['container_blkio_io_service_bytes_recursive_bytes', 'container_memory_total_pgfault_bytes', 'container_cpu_throttled_periods_total']) {
    assert.equal(families.get(family), 'gauge', family);
  }
  // a task that has gone leaves no series behind
  ctr('tasks', 'kill', '-s', 'SIGKILL', 'sleeper');
  for (let i = 0; i < 100 && !/^sleeper\s+\d+\s+STOPPED$/m.test(ctr('tasks', 'ls')); i++) await new Promise((resolve) => setTimeout(resolve, 100));
  ctr('tasks', 'delete', 'sleeper');
  assert.equal(find(parseExposition(await scrape(metricsSocket)), 'container_pids_current', sleeper).length, 0);
}
