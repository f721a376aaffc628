// The `delete` action (containerd's runc shim manager Stop): cleans up after a shim that died or
// failed: force-deletes the runc container, unmounts the rootfs, and answers with a protobuf
// DeleteResponse on stdout (init pid, exit status 128 + SIGKILL, now); warnings go to stderr.
import { join } from 'node:path';
import { encode, timestampFromNs } from '../wire/protocol/protowire.js';
import { DeleteResponse } from '../wire/protocol/task.js';
import type { ShimFlags } from './flags.js';
import { INIT_PID_FILE, readRuncOptions, readRuntimeBinary } from '../shared/runc-options.js';
import { runcFor } from './runc.js';
import { nowNs } from './reaper.js';
import { unmountRootfs } from './rootfs.js';
import { readPidFile } from './runc.js';

const SIGKILL = 9;

export async function deleteAction(flags: ShimFlags, bundle: string, warn: (message: string) => void): Promise<Uint8Array> {
  const runc = runcFor(bundle, flags.namespace, { ...readRuncOptions(bundle), binary_name: readRuntimeBinary(bundle) });
  try {
    await runc.delete(flags.id, true);
  } catch (err) {
    warn(`failed to remove runc container: ${(err as Error).message}`);
  }
  try {
    await unmountRootfs(join(bundle, 'rootfs'));
  } catch (err) {
    warn(`failed to cleanup rootfs mount: ${(err as Error).message}`);
  }
  let pid = 0;
  try {
    pid = readPidFile(join(bundle, INIT_PID_FILE));
  } catch (err) {
    warn(`failed to read init pid file: ${(err as Error).message}`);
  }
  return encode(DeleteResponse, { pid, exit_status: 128 + SIGKILL, exited_at: timestampFromNs(nowNs()) });
}
