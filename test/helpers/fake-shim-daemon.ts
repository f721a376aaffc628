// A stand-in daemon process for the "daemon dies" test: starts a shim for a bundle, creates and
// starts its task, prints {address, shimPid, taskPid} as one JSON line, then idles until killed.
import * as api from '../../src/shims/wire/protocol/task.js';
import { ShimClient, startShim } from './own-shim.js';

const [namespace, id, bundle, rootfs, daemonAddress] = process.argv.slice(2) as [string, string, string, string, string];
const started = await startShim({ namespace, id, bundle, daemonAddress });
if (started.code !== 0) throw new Error(`start failed: ${started.stderr}`);
const shim = await ShimClient.connect(started.socket, namespace);
const created = await shim.call<{ pid: number }>('Create', api.CreateTaskRequest, { id, bundle, rootfs: [{ type: 'bind', source: rootfs, target: '', options: ['rbind', 'rw'] }] }, api.CreateTaskResponse);
await shim.call('Start', api.ProcessRequest, { id }, api.StartResponse);
const { shim_pid } = await shim.call<{ shim_pid: number }>('Connect', api.IdRequest, { id }, api.ConnectResponse);
process.stdout.write(`${JSON.stringify({ address: started.address, shimPid: shim_pid, taskPid: created.pid })}\n`);
setInterval(() => {}, 1 << 30);
