// Shim figures, for ledgerd's containerd-shim-ledger-v1 and containerd-shim-runc-v2 side by side
// (same machine, same run, both driven as a daemon drives a shim v2):
//   node_boot_median: `node -e 0`, for calibration (the machine's load moves every figure)
//   <shim>_start_to_connect_median: from running `start` to the answer of the first Connect (10 shims)
//   <shim>_create_first_ms: the first Create of a fresh shim (runc create included)
//   <shim>_1c_rss / _private: memory of an idle shim serving one running container
//   <shim>_10c_group_rss / _private: one shim serving 10 running containers of one group
// Usage: node dist/bench/shim.js [--runs 10]   (root, runc, busybox-static)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as api from '../src/shims/wire/protocol/task.js';
import { busyboxRootfs, makeBundle, ociSpec, removeNamespaceLeftovers } from '../test/helpers/shim-bundle.js';
import { SHIM_BINARY, ShimClient, startShim } from '../test/helpers/own-shim.js';
import { percentile, report } from './report.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '10' } } });
const RUNS = Number(values.runs);
const SHIMS: Array<[string, string]> = [
  ['ledger', SHIM_BINARY],
  ['runc_v2', '/usr/bin/containerd-shim-runc-v2'],
];

const dir = mkdtempSync('/tmp/shim-bench-');
const rootfs = busyboxRootfs(join(dir, 'busybox'));
const daemonAddress = join(dir, 'containerd.sock');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** RSS, and the private part of it (what one more shim costs: node's code pages are shared by every shim). */
function memory(pid: number): { rss: number; private: number } {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const field = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(rollup)![1]);
  return { rss: field('Rss'), private: field('Private_Clean') + field('Private_Dirty') };
}
function reportMemory(name: string, pid: number): void {
  const m = memory(pid);
  report(`${name}_rss`, m.rss, 'KiB');
  report(`${name}_private`, m.private, 'KiB');
}
const median = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 50);

async function stopTask(shim: ShimClient, id: string): Promise<void> {
  const waited = shim.call('Wait', api.ProcessRequest, { id }, api.WaitResponse);
  await shim.call('Kill', api.KillRequest, { id, signal: 9 });
  await waited;
  await shim.call('Delete', api.ProcessRequest, { id }, api.DeleteResponse);
}

async function bench(name: string, binary: string): Promise<void> {
  const ns = `shim-bench-${name}-${process.pid}`;
  const state = join(dir, name);
  const bundle = (id: string, annotations: Record<string, string> = {}) =>
    makeBundle(state, ns, id, ociSpec({ args: ['sleep', '1000'], cgroupsPath: `/${ns}/${id}`, annotations }));
  const create = async (shim: ShimClient, id: string, b: string) => {
    await shim.call('Create', api.CreateTaskRequest, { id, bundle: b, rootfs: [{ type: 'bind', source: rootfs, target: '', options: ['rbind', 'rw'] }] }, api.CreateTaskResponse);
    await shim.call('Start', api.ProcessRequest, { id }, api.StartResponse);
  };

  // start -> Connect, fresh shims; the first of them also runs a container for the 1-container RSS
  const startTimes: number[] = [];
  const createTimes: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const id = `s${i}`;
    const b = bundle(id);
    const t0 = performance.now();
    const started = await startShim({ namespace: ns, id, bundle: b, daemonAddress, binary });
    if (started.code !== 0) throw new Error(`${name} start: ${started.stderr}`);
    const shim = await ShimClient.connect(started.socket, ns);
    const { shim_pid } = await shim.call<{ shim_pid: number }>('Connect', api.IdRequest, { id }, api.ConnectResponse);
    startTimes.push(performance.now() - t0);
    const t1 = performance.now();
    await create(shim, id, b);
    createTimes.push(performance.now() - t1);
    if (i === 0) {
      await sleep(2000);
      reportMemory(`${name}_1c`, shim_pid);
    }
    await stopTask(shim, id);
    await shim.call('Shutdown', api.ShutdownRequest, { id });
    await shim.close();
  }
  report(`${name}_start_to_connect_median`, median(startTimes), 'ms');
  report(`${name}_start_to_connect_min`, Math.min(...startTimes), 'ms');
  report(`${name}_create_start_first`, createTimes[0]!, 'ms');
  report(`${name}_create_start_median`, median(createTimes), 'ms');

  // 10 containers of one group in one shim
  const group = { 'io.containerd.runc.v2.group': 'bench-pod' };
  const ids = Array.from({ length: 10 }, (_, i) => `g${i}`);
  let shim: ShimClient | undefined;
  let pid = 0;
  for (const id of ids) {
    const b = bundle(id, group);
    const started = await startShim({ namespace: ns, id, bundle: b, daemonAddress, binary });
    shim ??= await ShimClient.connect(started.socket, ns);
    pid = (await shim.call<{ shim_pid: number }>('Connect', api.IdRequest, { id }, api.ConnectResponse)).shim_pid;
    await create(shim, id, b);
  }
  await sleep(2000);
  reportMemory(`${name}_10c_group`, pid);
  for (const id of ids) await stopTask(shim!, id);
  await shim!.call('Shutdown', api.ShutdownRequest, { id: ids[0]! });
  await shim!.close();
  removeNamespaceLeftovers(ns);
}

/** Calibration on this (shared, noisy) machine: how long a bare `node -e 0` takes now. The ledger shim boots node twice (start action, then the server). */
function nodeBoot(): void {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    execFileSync(process.execPath, ['-e', '0']);
    times.push(performance.now() - t0);
  }
  report('node_boot_median', median(times), 'ms');
}

try {
  nodeBoot();
  for (const [name, binary] of SHIMS) if (existsSync(binary)) await bench(name, binary);
} finally {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n').reverse()) {
    const target = line.split(' ')[4];
    if (target?.startsWith(dir)) execFileSync('umount', ['-l', target], { stdio: 'ignore' });
  }
  rmSync(dir, { recursive: true, force: true });
}
