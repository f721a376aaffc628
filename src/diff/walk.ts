/**
 * Go's filepath.Walk as continuity's pathWalk uses it: a pre-order walk that lists each directory
 * sorted by name bytes and never follows symlinks. Paths are byte strings with a leading "/"
 * relative to the root; the root itself is not yielded.
 */
import { type BigIntStats, lstatSync, readdirSync } from 'node:fs';
import { type BytePath, bytes } from './byte-path.js';

export interface WalkEntry {
  /** "/a/b" relative to the walked root. */
  path: BytePath;
  /** Host path. */
  full: BytePath;
  st: BigIntStats;
}

export function* walkTree(root: BytePath): Generator<WalkEntry> {
  const stack: Array<{ dir: BytePath; names: string[]; next: number }> = [{ dir: '', names: list(root), next: 0 }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.next >= top.names.length) {
      stack.pop();
      continue;
    }
    const path = `${top.dir}/${top.names[top.next++]}`;
    const full = root + path;
    const st = lstatSync(bytes(full), { bigint: true });
    yield { path, full, st };
    if (st.isDirectory()) stack.push({ dir: path, names: list(full), next: 0 });
  }
}

function list(dir: BytePath): string[] {
  return readdirSync(bytes(dir), { encoding: 'buffer' })
    .map((n) => n.toString('latin1'))
    .sort();
}
