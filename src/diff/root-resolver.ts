/**
 * Resolves paths inside a root the way containerd's fs.RootPath does, component by component
 * without ever leaving the root, with ledgerd's stricter rules on top:
 *  - symlinks already in the tree are followed *inside* the root: an absolute target is re-rooted
 *    at the root (container semantics: /var/run -> /run means <root>/run);
 *  - a relative target whose ".." would climb above the root is refused (containerd clamps it);
 *  - a symlink created by the layer being applied is never followed: an archive that makes a
 *    symlink and then writes "through" it is refused (no real differ emits children of a symlink);
 *  - more than 255 links is refused; an existing non-directory in a parent position is refused.
 * The caller must be the only writer of the tree while it applies (the snapshot is not in use),
 * which makes "resolve, then act on the result" race-free.
 */
import { lstatSync, readlinkSync } from 'node:fs';
import { type BytePath, bytes, display } from './byte-path.js';
import { UnsafeEntryError } from './errors.js';

export interface ResolvedDir {
  /** The resolved components under the root; every one is a real directory or does not exist. */
  rel: string[];
  /** How many leading components of `rel` exist (the rest are to be created). */
  existing: number;
}

const MAX_LINKS = 255;

export class RootResolver {
  /** Resolved relative paths known to be real directories (never symlinks). */
  private readonly dirs = new Set<string>();
  /** Relative paths of symlinks the current layer created. */
  private readonly layerSymlinks = new Set<string>();

  constructor(readonly root: BytePath) {}

  /** Host path of a relative path (components or a "a/b" key). */
  host(rel: string[] | string): BytePath {
    const key = typeof rel === 'string' ? rel : rel.join('/');
    return key === '' ? this.root : `${this.root}/${key}`;
  }

  /**
   * Resolves directory components (already free of "", "." and "..") inside the root.
   * `entry` names the archive entry in errors.
   */
  resolveDir(components: readonly string[], entry: string): ResolvedDir {
    if (components.length === 0 || this.dirs.has(components.join('/'))) {
      return { rel: [...components], existing: components.length };
    }
    const out: string[] = [];
    const todo = [...components].reverse();
    let missingFrom = -1;
    let links = 0;
    while (todo.length > 0) {
      const c = todo.pop()!;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        if (out.length === 0) {
          throw new UnsafeEntryError(entry, 'symlink-escape', 'a symlink target climbs above the root');
        }
        out.pop();
        if (missingFrom >= out.length) missingFrom = -1;
        continue;
      }
      out.push(c);
      if (missingFrom >= 0) continue;
      const key = out.join('/');
      if (this.dirs.has(key)) continue;
      let st;
      try {
        st = lstatSync(bytes(this.host(key)));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        missingFrom = out.length - 1;
        continue;
      }
      if (st.isDirectory()) {
        this.dirs.add(key);
      } else if (st.isSymbolicLink()) {
        if (this.layerSymlinks.has(key)) {
          throw new UnsafeEntryError(entry, 'through-layer-symlink', `"${display(key)}" is a symlink from this layer`);
        }
        if (++links > MAX_LINKS) throw new UnsafeEntryError(entry, 'too-many-links');
        const target = readlinkSync(bytes(this.host(key)), { encoding: 'buffer' }).toString('latin1');
        out.pop();
        if (target.startsWith('/')) out.length = 0;
        todo.push(...target.split('/').reverse());
      } else {
        throw new UnsafeEntryError(entry, 'not-a-directory', `"${display(key)}" exists and is not a directory`);
      }
    }
    return { rel: out, existing: missingFrom < 0 ? out.length : missingFrom };
  }

  /** Records a directory this apply created. */
  noteDir(key: string): void {
    this.dirs.add(key);
  }

  /** Records a symlink this apply created (never to be followed by this apply). */
  noteLayerSymlink(key: string): void {
    this.layerSymlinks.add(key);
  }

  /** Forgets every cached directory (call after removing a directory). */
  forgetDirs(): void {
    this.dirs.clear();
  }
}
