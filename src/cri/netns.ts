// Pod network namespaces, bind-mounted at /var/run/netns/cni-<uuid> as containerd's CRI does
// (pkg/netns), made and removed with iproute2's `ip netns` (which does the unshare and the
// bind mount that a Node thread cannot).
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const NETNS_DIR = '/var/run/netns';

/** A fresh name for a pod's netns (to journal before it is made). */
export const newNetnsPath = () => `${NETNS_DIR}/cni-${randomUUID()}`;

export async function createNetns(path = newNetnsPath()): Promise<string> {
  const name = basename(path);
  await run('ip', ['netns', 'add', name]).catch((err: { stderr?: string; message: string }) => {
    throw new Error(`creating network namespace ${name}: ${err.stderr?.trim() || err.message}`);
  });
  return `${NETNS_DIR}/${name}`;
}

/** Unmounts and deletes a pod's netns; one that is already gone is no error. */
export async function removeNetns(path: string): Promise<void> {
  if (!path || !existsSync(path)) return;
  await run('ip', ['netns', 'delete', basename(path)]).catch((err: { stderr?: string; message: string }) => {
    if (existsSync(path)) throw new Error(`removing network namespace ${path}: ${err.stderr?.trim() || err.message}`);
  });
}
