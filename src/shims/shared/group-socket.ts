// Taking a group's socket path: a shim `start` and a warm shim's assignment both find out
// whether a live shim serves the path (then they share it), or remove a dead shim's file and
// listen there. Two of them for one group at once (two `start`s, or a `start` and an assignment)
// could both find the file dead and both listen, the second removing the first one's fresh
// socket file: the first shim's tasks then unreachable. So the check, the removal and the bind
// happen under an exclusive flock of the socket directory, held until the new listener listens
// (from then on a dial succeeds: the kernel queues it). The lock is on the directory itself, so
// nothing is left to clean up; it serializes the starts of all the groups of that directory,
// which hold it for one dial and one bind.
import { mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { withExclusiveLock } from '../../util/file-lock.js';
import { canConnect } from './socket-address.js';

/**
 * Calls `listen` (which binds `path` and resolves once listening) unless a live shim serves
 * `path`; a dead shim's socket file is removed first. Undefined: a live shim serves there.
 */
export function claimGroupSocket<T>(path: string, listen: () => Promise<T>): Promise<T | undefined> {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return withExclusiveLock(dir, async () => {
    if (await canConnect(path)) return undefined;
    rmSync(path, { force: true });
    return listen();
  });
}
